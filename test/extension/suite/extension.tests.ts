// Runs inside VS Code's extension host (code-server), against the bundled local registry.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { DeployResult } from '../../../client/index.js';
import type { ExtensionApi } from '../../../extension/extension.js';
import type { PublishResult } from '../../../extension/commands/authoring.js';
import type { RegistryNode } from '../../../extension/tree/nodes.js';
import { GREETING_FRONT_MATTER } from '../greeting.js';
import { until } from './support.js';

declare const describe: (name: string, fn: () => void) => void;
declare const it: (name: string, fn: () => Promise<void> | void) => void;
declare const before: (fn: () => Promise<void> | void) => void;

const FILE = `${GREETING_FRONT_MATTER}Hello {{name}}, welcome to {{company}}!\n`;

const labels = async (api: ExtensionApi, parent?: RegistryNode) =>
  (await api.prompts.getChildren(parent)).map((n) => `${String(n.label)}${n.description ? ` [${String(n.description)}]` : ''}`);

describe('Prompt Registry in VS Code', () => {
  let api: ExtensionApi;
  let file: vscode.Uri;

  before(async () => {
    const ext = vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry');
    assert.ok(ext, 'the extension is installed');
    api = await ext.activate();
    await until('the bundled registry is connected', () => api.connection.state.kind === 'connected' || api.connection.state.kind === 'unreachable');
    assert.equal(api.connection.state.kind, 'connected', JSON.stringify(api.connection.state));
    console.log(`TIMING activate_ms=${api.timings.activateMs.toFixed(1)} connected_ms=${api.timings.connectedMs?.toFixed(0)}`);
    const root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    file = vscode.Uri.file(join(root, 'greeting.prompt'));
    writeFileSync(file.fsPath, FILE);
  });

  it('starts the bundled registry on SQLite, locally', () => {
    assert.equal(api.connection.state.mode, 'local');
  });

  it('shows inline samples and diagnostics for a .prompt file', async () => {
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'prompt-registry');
    const { analysis } = api.editors.analyze(doc);
    assert.deepEqual(analysis.variables, ['name', 'company']);
    assert.deepEqual(
      analysis.occurrences.map((o) => (o.sample.found ? o.sample.value : undefined)),
      ['Ann', 'Acme'],
    );
    assert.deepEqual(vscode.languages.getDiagnostics(doc.uri), []);
  });

  it('publishes the file as version 1, then says an unchanged file is identical to version 1', async () => {
    const first = await vscode.commands.executeCommand<PublishResult>('promptRegistry.publish', file);
    assert.deepEqual(first, { prompt: 'greeting', version: 1, created: true });
    const again = await vscode.commands.executeCommand<PublishResult>('promptRegistry.publish', file);
    assert.deepEqual(again, { prompt: 'greeting', version: 1, created: false });
    assert.deepEqual(await labels(api), ['greeting [v1]']);
  });

  it('publishes an edit as version 2', async () => {
    const doc = await vscode.workspace.openTextDocument(file);
    const edit = new vscode.WorkspaceEdit();
    const line = doc.lineCount - 2;
    edit.replace(file, doc.lineAt(line).range, 'Hi {{name}}! Welcome to {{company}}.');
    assert.ok(await vscode.workspace.applyEdit(edit));
    await doc.save();
    const second = await vscode.commands.executeCommand<PublishResult>('promptRegistry.publish', file);
    assert.deepEqual(second, { prompt: 'greeting', version: 2, created: true });
    const [prompt] = await api.prompts.getChildren();
    assert.deepEqual((await labels(api, prompt)).map((l) => l.split(' ')[0]), ['v2', 'v1']);
  });

  it('deploys version 1 then 2 to staging, and the tree shows what is live', async () => {
    await vscode.commands.executeCommand('promptRegistry.deploy', { prompt: 'greeting', version: 1, environment: 'staging' });
    const d = await vscode.commands.executeCommand<DeployResult>('promptRegistry.deploy', { prompt: 'greeting', version: 2, environment: 'staging' });
    assert.ok(d.kind === 'applied', JSON.stringify(d));
    assert.equal(d.deployment.version, 2);
    api.prompts.refresh();
    assert.deepEqual(await labels(api), ['greeting [staging v2]']);
    const [prompt] = await api.prompts.getChildren();
    const versions = await api.prompts.getChildren(prompt);
    assert.match(String(versions[0]!.description), /● staging/);
    assert.equal(versions[0]!.contextValue, 'version.live');
    const [, staging] = await api.live.getChildren();
    assert.equal(staging!.label, 'staging');
    assert.deepEqual((await api.live.getChildren(staging)).map((n) => `${String(n.label)} ${String(n.description).split(' ')[0]}`), ['greeting v2']);
  });

  it('rolls back staging to version 1, and the tree follows', async () => {
    const r = await vscode.commands.executeCommand<DeployResult>('promptRegistry.rollback', { prompt: 'greeting', environment: 'staging', confirmed: true });
    assert.ok(r.kind === 'applied', JSON.stringify(r));
    assert.equal(r.deployment.version, 1);
    assert.equal(r.deployment.action, 'rollback');
    api.prompts.refresh();
    assert.deepEqual(await labels(api), ['greeting [staging v1]']);
  });

  it('renders a live preview with the server engine and counts', async () => {
    await vscode.commands.executeCommand('promptRegistry.preview', file);
    const update = await until('the preview renders', () => api.preview.current);
    assert.equal(update.rendered, 'Hi Ann! Welcome to Acme.\n');
    assert.equal(update.chars, 25);
    assert.equal(update.error, null);
  });

  it('shows a template beyond its budget as an error in the preview', async () => {
    const root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    const cube = vscode.Uri.file(join(root, 'cube.prompt'));
    // Three nested loops over 600 items: 216 million bodies without a budget, a frozen extension host.
    writeFileSync(cube.fsPath, `---\nname: cube\nsamples:\n  a: [${Array.from({ length: 600 }, () => 0).join(', ')}]\n---\n{{#each a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}\n`);
    await vscode.commands.executeCommand('promptRegistry.preview', cube);
    const update = await until('the preview shows the budget error', () => (api.preview.current?.fileName === 'cube.prompt' && api.preview.current.error ? api.preview.current : undefined));
    assert.match(update.error!.message, /more than 100000 loop iterations; the limit is 100000/);
    await vscode.commands.executeCommand('promptRegistry.preview', file);
  });

  it('opens a version read-only, and reports a variable without a sample', async () => {
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>('promptRegistry.openVersion', { prompt: 'greeting', version: 1 });
    assert.match(doc.getText(), /Hello \{\{name\}\}, welcome to \{\{company\}\}!/);
    assert.equal(doc.uri.scheme, 'prompt-registry');
    const other = vscode.Uri.file(join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'missing.prompt'));
    writeFileSync(other.fsPath, '---\nname: missing\nsamples:\n  unused: 1\n---\nHi {{who}}\n');
    const missing = await vscode.workspace.openTextDocument(other);
    await vscode.window.showTextDocument(missing);
    const diagnostics = await until('diagnostics', () => {
      const d = vscode.languages.getDiagnostics(other);
      return d.length >= 2 ? d : undefined;
    });
    assert.ok(diagnostics.some((d) => d.severity === vscode.DiagnosticSeverity.Warning && /"who" has no sample/.test(d.message)));
    assert.ok(diagnostics.some((d) => d.severity === vscode.DiagnosticSeverity.Hint && /"unused"/.test(d.message)));
  });

  it('pulls a version into the workspace with empty samples to fill in', async () => {
    const uri = await vscode.commands.executeCommand<vscode.Uri>('promptRegistry.pull', { prompt: 'greeting', version: 1 });
    assert.match(uri.fsPath, /prompts[\\/]greeting\.prompt$/);
    const text = (await vscode.workspace.openTextDocument(uri)).getText();
    assert.match(text, /^---\nname: greeting\n/);
    assert.match(text, /samples:\n {2}name: ""\n {2}company: ""/);
    assert.match(text, /---\nHello \{\{name\}\}, welcome to \{\{company\}\}!\n$/);
  });

  it('compares two versions, and the file with what is live, in a diff editor', async () => {
    await vscode.commands.executeCommand('promptRegistry.compareVersions', { prompt: 'greeting', versions: [2, 1] });
    let input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(input instanceof vscode.TabInputTextDiff, 'a diff editor is open');
    assert.equal(input.original.path, '/greeting/v1.prompt');
    assert.equal(input.modified.path, '/greeting/v2.prompt');
    await vscode.commands.executeCommand('promptRegistry.compareWithLive', file, 'staging');
    input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(input instanceof vscode.TabInputTextDiff);
    assert.equal(input.original.path, '/greeting/v1.prompt', 'staging runs v1 after the rollback');
    assert.equal(input.modified.fsPath, file.fsPath);
  });

  it('refuses to publish a file with a template syntax error, saying where', async () => {
    const broken = vscode.Uri.file(join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'broken.prompt'));
    writeFileSync(broken.fsPath, '---\nname: broken\n---\nHi {{#if x}}\n');
    const result = await vscode.commands.executeCommand<PublishResult | undefined>('promptRegistry.publish', broken);
    assert.equal(result, undefined);
    api.prompts.refresh();
    assert.deepEqual(await labels(api), ['greeting [staging v1]'], 'nothing was published');
  });
});
