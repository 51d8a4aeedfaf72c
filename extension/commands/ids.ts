/**
 * Every command the extension registers, by one name: `contributes.commands` in package.json
 * declares the same ids (test/unit/command-ids.test.ts checks both ways), so a command is never a
 * string literal typed twice. `openSignInPage` is internal: the sign-in notification runs it.
 */
export const COMMANDS = {
  abortRollout: 'promptRegistry.abortRollout',
  addToDataset: 'promptRegistry.addToDataset',
  approveRequest: 'promptRegistry.approveRequest',
  cancelRun: 'promptRegistry.cancelRun',
  changeRolloutWeight: 'promptRegistry.changeRolloutWeight',
  clearFilter: 'promptRegistry.clearFilter',
  compareFiles: 'promptRegistry.compareFiles',
  compareRollout: 'promptRegistry.compareRollout',
  compareVersions: 'promptRegistry.compareVersions',
  compareWithLive: 'promptRegistry.compareWithLive',
  convertFiles: 'promptRegistry.convertFiles',
  deploy: 'promptRegistry.deploy',
  evaluateDataset: 'promptRegistry.evaluateDataset',
  filter: 'promptRegistry.filter',
  importPrompty: 'promptRegistry.importPrompty',
  loadMore: 'promptRegistry.loadMore',
  newPrompt: 'promptRegistry.newPrompt',
  openExecution: 'promptRegistry.openExecution',
  openSignInPage: 'promptRegistry.openSignInPage',
  openVersion: 'promptRegistry.openVersion',
  preview: 'promptRegistry.preview',
  promoteRollout: 'promptRegistry.promoteRollout',
  publish: 'promptRegistry.publish',
  pull: 'promptRegistry.pull',
  refresh: 'promptRegistry.refresh',
  refreshExecutions: 'promptRegistry.refreshExecutions',
  rejectRequest: 'promptRegistry.rejectRequest',
  retry: 'promptRegistry.retry',
  rollback: 'promptRegistry.rollback',
  runPrompt: 'promptRegistry.runPrompt',
  setApiKey: 'promptRegistry.setApiKey',
  showConnection: 'promptRegistry.showConnection',
  showExecutions: 'promptRegistry.showExecutions',
  showStatistics: 'promptRegistry.showStatistics',
  signIn: 'promptRegistry.signIn',
  signOut: 'promptRegistry.signOut',
  startRollout: 'promptRegistry.startRollout',
  withdrawRequest: 'promptRegistry.withdrawRequest',
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];

/** Commands registered but not in the palette or any menu. */
export const INTERNAL_COMMANDS: readonly CommandId[] = [COMMANDS.openSignInPage];
