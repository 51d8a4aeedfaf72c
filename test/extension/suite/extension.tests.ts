// Runs inside VS Code's extension host (code-server), against the bundled local registry.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { DeployResult } from '../../../client/index.js';
import type { ExtensionApi } from '../../../extension/extension.js';
import type { PublishResult } from '../../../extension/commands/authoring.js';
import type { RegistryNode } from '../../../extension/tree/nodes.js';
import type { CompareUpdate } from '../../../webview/protocol.js';
import type { ConvertResult } from '../../../extension/commands/prompt-files.js';
import { GREETING_FRONT_MATTER, SAFETY, SUPPORT_CHAT, SUPPORT_CHAT_V2 } from '../greeting.js';
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

  it('compares two versions message by message in the compare panel, and the file with what is live in a diff editor', async () => {
    const update = await vscode.commands.executeCommand<CompareUpdate>('promptRegistry.compareVersions', { prompt: 'greeting', versions: [2, 1] });
    assert.equal(update.title, 'greeting: v1 ↔ v2');
    assert.deepEqual([update.comparison.left, update.comparison.right], ['v1', 'v2']);
    assert.deepEqual(update.comparison.messages.map((r) => [r.status, r.left?.role]), [['changed', 'text']]);
    assert.ok(update.comparison.messages[0]!.lines!.some((l) => l.kind === 'added'), 'the edited line is marked');
    assert.deepEqual(api.compare.current, update, 'the panel shows it');
    await vscode.commands.executeCommand('promptRegistry.compareWithLive', file, 'staging');
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
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

describe('Chat .prompt files (Dotprompt)', () => {
  let api: ExtensionApi;
  let root: string;
  let chat: vscode.Uri;

  before(async () => {
    api = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    root = vscode.workspace.workspaceFolders![0]!.uri.fsPath;
    writeFileSync(join(root, 'safety.prompt'), SAFETY);
    writeFileSync(join(root, 'support-v2.prompt'), SUPPORT_CHAT_V2);
    chat = vscode.Uri.file(join(root, 'support.prompt'));
    writeFileSync(chat.fsPath, SUPPORT_CHAT);
    await until('the workspace index has the partial', async () => (await api.index.names()).includes('safety'));
  });

  it('finds the variables of every message, with their samples, and no problems', async () => {
    const doc = await vscode.workspace.openTextDocument(chat);
    await vscode.window.showTextDocument(doc);
    const { file, analysis } = api.editors.analyze(doc);
    assert.equal(file.structure.kind, 'chat');
    assert.deepEqual(analysis.variables, ['company', 'vip', 'question']);
    assert.deepEqual(
      analysis.occurrences.map((o) => [o.name, o.span.line, o.sample.found ? o.sample.value : undefined]),
      [['company', 25, 'Acme'], ['vip', 27, true], ['question', 30, 'Where is my parcel?']],
    );
    await until('diagnostics settle', () => vscode.languages.getDiagnostics(chat).length === 0 || undefined, 5_000).catch(() => undefined);
    assert.deepEqual(vscode.languages.getDiagnostics(chat).map((d) => d.message), []);
  });

  it('goes to the partial\'s workspace file from {{> safety}}, and hovers a variable with its schema', async () => {
    const links = await vscode.commands.executeCommand<Array<vscode.Location | vscode.LocationLink>>('vscode.executeDefinitionProvider', chat, new vscode.Position(25, 5));
    const target = links.map((l) => ('targetUri' in l ? l.targetUri : l.uri).fsPath);
    assert.deepEqual(target, [join(root, 'safety.prompt')]);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', chat, new vscode.Position(24, 28));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /\*\*company\*\* \(string\): the brand answering/);
    assert.match(text, /Acme/);
  });

  it('previews the conversation: the partial expanded, the history filled from the samples', async () => {
    await vscode.commands.executeCommand('promptRegistry.preview', chat);
    const update = await until('the chat preview', () => (api.preview.current?.fileName === 'support.prompt' && api.preview.current.messages ? api.preview.current : undefined));
    assert.equal(update.error, null);
    assert.deepEqual(update.messages, [
      { role: 'system', content: 'You answer customers of Acme.\nNever share payment details.\nBe extra polite.' },
      { role: 'user', content: 'Hi, I ordered boots last week.', placeholder: 'history' },
      { role: 'assistant', content: 'Thanks! What is the order number?', placeholder: 'history' },
      { role: 'user', content: 'Where is my parcel?' },
    ]);
  });

  it('compares two chat files message by message and config by config', async () => {
    const update = await vscode.commands.executeCommand<CompareUpdate>('promptRegistry.compareFiles', chat, vscode.Uri.file(join(root, 'support-v2.prompt')));
    const c = update.comparison;
    assert.deepEqual(c.messages.map((r) => [r.status, r.left?.role ?? r.right?.role]), [['changed', 'system'], ['same', 'placeholder'], ['same', 'user'], ['added', 'assistant']]);
    assert.deepEqual(c.config.filter((r) => r.status !== 'same').map((r) => [r.key, r.left, r.right]), [['temperature', '0.2', '0.1'], ['response_format', null, '{\n  "type": "json_object"\n}']]);
  });

  it('converts an old-format file to the Dotprompt form, keeping what it publishes', async () => {
    const old = vscode.Uri.file(join(root, 'old.prompt'));
    writeFileSync(old.fsPath, '---\nname: old\ntags: [a]\ntemperature: 0.5\nsamples:\n  who: Bo\n---\nHi {{who}}\n');
    const result = await vscode.commands.executeCommand<ConvertResult>('promptRegistry.convertFiles', old);
    assert.deepEqual(result, { converted: ['old.prompt'], unchanged: 0, failed: [] });
    const text = (await vscode.workspace.openTextDocument(old)).getText();
    assert.equal(text, '---\nname: old\nconfig:\n  temperature: 0.5\npromptRegistry.tags:\n  - a\npromptRegistry.samples:\n  who: Bo\n---\nHi {{who}}\n');
  });

  it('imports a Prompty file as a chat prompt in prompts/', async () => {
    const prompty = vscode.Uri.file(join(root, 'faq.prompty'));
    writeFileSync(prompty.fsPath, '---\nname: FAQ Bot\nmodel:\n  configuration:\n    name: gpt-4o-mini\n  parameters:\n    temperature: 0\nsample:\n  topic: returns\n---\nsystem:\nYou answer FAQs.\n\nuser:\nTell me about {{ topic }}.\n');
    const uri = await vscode.commands.executeCommand<vscode.Uri>('promptRegistry.importPrompty', prompty);
    assert.match(uri.fsPath, /prompts[\\/]faq-bot\.prompt$/);
    const { file } = api.editors.analyze(await vscode.workspace.openTextDocument(uri));
    assert.deepEqual(file.problems, []);
    assert.deepEqual(file.structure.parts.map((p) => (p.kind === 'message' ? [p.role, p.content] : [p.kind])), [['system', 'You answer FAQs.'], ['user', 'Tell me about {{topic}}.']]);
  });
});
