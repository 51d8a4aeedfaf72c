import * as vscode from 'vscode';
import type { Page, RegistryApi } from '../../client/index.js';
import type { Connection } from '../connection.js';
import { NotConnectedError } from '../connection.js';
import type { Settings } from '../config.js';
import { describeFilter, PAGE_SIZE } from '../core/tree-model.js';
import { Disposable } from '../lifecycle.js';
import { EnvironmentNode, LiveNode, LoadMoreNode, MessageNode, PromptNode, RolloutNode, UsedByEntryNode, UsedByNode, VersionNode, type RegistryNode } from './nodes.js';
import type { RolloutIndex } from './rollout-index.js';
import { usedByOrNone } from './used-by.js';

/** The children of one parent, page by page, so 10,000 prompts never load at once. */
interface Pages {
  nodes: RegistryNode[];
  cursor: string | null;
}

/**
 * Both trees: "Prompts" (prompts, then their versions) and "Live" (each
 * environment, then what is live there). Pages of 100 are fetched lazily;
 * "Load more…" fetches the next.
 */
export class RegistryTree extends Disposable implements vscode.TreeDataProvider<RegistryNode> {
  private readonly changed = this._register(new vscode.EventEmitter<RegistryNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private readonly pages = new Map<string, Pages>();
  filter: { search?: string; tags: string[] } = { tags: [] };
  readonly view: vscode.TreeView<RegistryNode>;

  constructor(
    private readonly kind: 'prompts' | 'live',
    private readonly connection: Connection,
    private readonly settings: Settings,
    private readonly rollouts: RolloutIndex,
  ) {
    super();
    this.view = this._register(vscode.window.createTreeView(kind === 'prompts' ? 'promptRegistry.prompts' : 'promptRegistry.live', { treeDataProvider: this, showCollapseAll: true }));
    this._register(connection.onDidChange(() => this.refresh()));
  }

  refresh(node?: RegistryNode): void {
    if (node) this.pages.delete(node.id ?? '');
    else this.pages.clear();
    this.changed.fire(node);
  }

  setFilter(filter: { search?: string; tags: string[] }): void {
    this.filter = filter;
    this.view.description = describeFilter(filter) || undefined;
    void vscode.commands.executeCommand('setContext', 'promptRegistry.filtered', Boolean(this.view.description));
    this.refresh();
  }

  getTreeItem(node: RegistryNode): vscode.TreeItem {
    return node;
  }

  async getChildren(parent?: RegistryNode): Promise<RegistryNode[]> {
    let api;
    try {
      api = this.connection.api;
    } catch (err) {
      // The welcome view explains the state; an empty tree shows it.
      if (err instanceof NotConnectedError) return [];
      throw err;
    }
    if (!parent && this.kind === 'live') {
      const protectedEnvs = this.settings.protectedEnvironments;
      return (await api.environments()).map((e) => new EnvironmentNode(e, protectedEnvs.includes(e)));
    }
    if (parent instanceof UsedByNode) return parent.usedBy.map((u) => new UsedByEntryNode(parent.prompt.name, u));
    if (!(parent === undefined || parent instanceof PromptNode || parent instanceof EnvironmentNode)) return [];
    const key = parent?.id ?? 'root';
    let pages = this.pages.get(key);
    if (!pages) {
      pages = { nodes: [], cursor: null };
      this.pages.set(key, pages);
      await this.fetchPage(parent as PromptNode | EnvironmentNode | undefined, pages, null);
      if (!pages.nodes.length && !parent && (this.filter.search || this.filter.tags.length)) return [new MessageNode(`No prompts match ${describeFilter(this.filter)}`, 'filter')];
    }
    return pages.cursor ? [...pages.nodes, new LoadMoreNode(parent as PromptNode | EnvironmentNode | undefined, pages.cursor)] : pages.nodes;
  }

  private async fetchPage(parent: PromptNode | EnvironmentNode | undefined, pages: Pages, cursor: string | null): Promise<void> {
    const api = this.connection.api;
    let page: Page<RegistryNode>;
    if (parent instanceof PromptNode) {
      // Above the first page of versions: the prompt's rollouts, and who includes it as a partial.
      const [p, extras] = await Promise.all([api.listVersions(parent.prompt.name, { limit: PAGE_SIZE, cursor }), cursor ? [] : this.promptExtras(api, parent)]);
      page = { items: [...extras, ...p.items.map((v) => new VersionNode(v))], next_cursor: p.next_cursor };
    } else if (parent instanceof EnvironmentNode) {
      const p = await api.listPrompts({ environment: parent.environment, limit: PAGE_SIZE, cursor });
      page = { items: p.items.map((x) => new LiveNode(x, parent.environment, this.rollouts.peek(x.name, parent.environment) ?? undefined)), next_cursor: p.next_cursor };
      this.lookUpRollouts(parent, pages, p.items.map((x) => x.name));
    } else {
      const p = await api.listPrompts({ ...this.filter, limit: PAGE_SIZE, cursor });
      page = { items: p.items.map((x) => new PromptNode(x)), next_cursor: p.next_cursor };
    }
    pages.nodes.push(...page.items);
    pages.cursor = page.next_cursor;
  }

  /**
   * The page shows at once; the rollouts of its prompts not yet known are asked for behind it (the
   * environment's list, one request), and the rows that have one are redrawn.
   */
  private lookUpRollouts(parent: EnvironmentNode, pages: Pages, names: string[]): void {
    const environment = parent.environment;
    const unknown = names.filter((name) => this.rollouts.peek(name, environment) === undefined);
    if (!unknown.length) return;
    void this.rollouts.many(unknown.map((prompt) => ({ prompt, environment }))).then((found) => {
      if (!found.some(Boolean) || this.pages.get(parent.id ?? '') !== pages) return;
      pages.nodes = pages.nodes.map((n) => {
        const rollout = n instanceof LiveNode ? this.rollouts.peek(n.prompt.name, environment) : undefined;
        return n instanceof LiveNode && rollout ? new LiveNode(n.prompt, environment, rollout) : n;
      });
      this.changed.fire(parent);
    });
  }

  /** A rollout row per environment where one runs, then "Used by" when other prompts include this one. */
  private async promptExtras(api: RegistryApi, node: PromptNode): Promise<RegistryNode[]> {
    const environments = Object.keys(node.prompt.environments).sort();
    const [rollouts, usedBy] = await Promise.all([this.rollouts.many(environments.map((environment) => ({ prompt: node.prompt.name, environment }))), usedByOrNone(api, node.prompt.name)]);
    const nodes: RegistryNode[] = environments.flatMap((env, i) => (rollouts[i] ? [new RolloutNode(node.prompt, env, rollouts[i])] : []));
    if (usedBy.length) nodes.push(new UsedByNode(node.prompt, usedBy));
    return nodes;
  }

  /** "Load more…": appends the next page under the same parent. */
  async loadMore(node: LoadMoreNode): Promise<void> {
    const key = node.parent?.id ?? 'root';
    const pages = this.pages.get(key);
    if (!pages) return;
    await this.fetchPage(node.parent, pages, node.cursor);
    this.changed.fire(node.parent);
  }
}

