/** Prompts as files in git: a folder of `.prompt` files compared with, pushed to and pulled from a registry. */
export { createBody, formatVersion, readPromptText, unrepresentable, type FileProblem, type PartialUse, type ReadFile, type VersionFields } from './format.js';
export { FolderError, findPromptFiles, nameFromPath, pathForName, readFolder, type Layout } from './folder.js';
export { contentHash, describePlan, driftOf, isIdentical, partialProblems, planSync, waves, sha256, promptChanges, versionChanges, type Action, type Change, type LocalPrompt, type Plan, type PlanEntry, type RemotePrompt, type RemoteVersion, type VersionSettings } from './plan.js';
export { readRemote } from './remote.js';
export { diff, pull, push, type PulledPrompt, type PullResult, type PushedPrompt, type PushResult } from './sync.js';
export { connect, syncCommands } from './commands.js';
