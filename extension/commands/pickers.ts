import * as vscode from 'vscode';
import type { PromptSummary, RegistryApi } from '../../client/index.js';
import { picked } from './ui.js';

/** Picks a prompt, searching the registry as the user types (10,000 prompts never load at once). */
export async function pickPrompt(api: RegistryApi, title: string): Promise<PromptSummary> {
  const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { prompt: PromptSummary }>();
  qp.title = title;
  qp.placeholder = 'Type to search prompts by name or description';
  qp.matchOnDescription = true;
  let seq = 0;
  const load = async (search: string) => {
    const mine = ++seq;
    qp.busy = true;
    try {
      const page = await api.listPrompts({ ...(search ? { search } : {}), limit: 50 });
      if (mine !== seq) return;
      qp.items = page.items.map((p) => ({ label: p.name, description: p.description ?? '', detail: p.latest_version ? `latest v${p.latest_version}` : 'no versions', prompt: p }));
    } finally {
      if (mine === seq) qp.busy = false;
    }
  };
  qp.onDidChangeValue((v) => void load(v.trim()));
  void load('');
  const choice = await new Promise<PromptSummary | undefined>((resolve) => {
    qp.onDidAccept(() => resolve(qp.selectedItems[0]?.prompt));
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  return picked(choice);
}

export async function pickVersion(api: RegistryApi, name: string, title: string, exclude?: number): Promise<number> {
  const page = await api.listVersions(name, { limit: 100 });
  const items = page.items
    .filter((v) => v.version !== exclude)
    .map((v) => ({ label: `v${v.version}`, description: [v.environments.map((e) => `● ${e}`).join(' '), v.message ?? ''].filter(Boolean).join('  '), detail: `${v.created_by} · ${v.created_at.slice(0, 16).replace('T', ' ')}`, version: v.version }));
  return picked(await vscode.window.showQuickPick(items, { title, placeHolder: `A version of ${name}` }))!.version;
}

export async function pickEnvironment(
  api: RegistryApi,
  prompt: PromptSummary,
  title: string,
  protectedEnvironments: string[],
  only?: (env: string) => boolean,
): Promise<string> {
  const envs = (await api.environments()).filter((e) => !only || only(e));
  if (envs.length === 0) throw new vscode.CancellationError();
  const items = envs.map((e) => ({
    label: e,
    description: [prompt.environments[e] ? `live: v${prompt.environments[e].version}` : 'nothing live', protectedEnvironments.includes(e) ? '$(lock) protected' : ''].filter(Boolean).join('  '),
    env: e,
  }));
  return picked(await vscode.window.showQuickPick(items, { title, placeHolder: 'Environment' }))!.env;
}
