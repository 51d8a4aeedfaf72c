import * as vscode from 'vscode';
import type { PartialReference } from '../../shared/prompt-files/chat-template.js';
import { analyzePromptFile, describeSample, type Analysis, type Diagnostic } from '../core/diagnostics.js';
import { bodySpan, parsePromptFile, sampleValues, type PromptFile, type Span } from '../../shared/prompt-files/prompt-file.js';
import type { Settings } from '../config.js';
import { Disposable } from '../lifecycle.js';
import type { PromptIndex } from './partials.js';

/** Our own id: `prompt` is VS Code's chat prompt-file language, which would validate .prompt files as its own. */
export const PROMPT_LANGUAGE = 'prompt-registry';

const toRange = (s: Span) => new vscode.Range(s.line - 1, s.column - 1, s.endLine - 1, s.endColumn - 1);

const SEVERITY: Record<Diagnostic['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  hint: vscode.DiagnosticSeverity.Hint,
};

/**
 * Everything the editor shows for a `.prompt` file, from one analysis per
 * version of the document: diagnostics, each {{variable}}'s sample value
 * inline, hovers with the full value, and completion of variable names.
 */
export class PromptEditorSupport extends Disposable {
  private readonly diagnostics = this._register(vscode.languages.createDiagnosticCollection('prompt-registry'));
  /** Partial references that lead nowhere: checked against the workspace and the registry, after the rest. */
  private readonly partialDiagnostics = this._register(vscode.languages.createDiagnosticCollection('prompt-registry-partials'));
  private readonly sampleDecoration = this._register(
    vscode.window.createTextEditorDecorationType({
      after: { margin: '0 0 0 0.4em', color: new vscode.ThemeColor('editorInlayHint.foreground'), backgroundColor: new vscode.ThemeColor('editorInlayHint.background'), fontStyle: 'italic' },
    }),
  );
  private readonly missingDecoration = this._register(
    vscode.window.createTextEditorDecorationType({
      after: { margin: '0 0 0 0.4em', color: new vscode.ThemeColor('editorWarning.foreground'), fontStyle: 'italic' },
    }),
  );
  private readonly cache = new Map<string, { version: number; file: PromptFile; analysis: Analysis }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly settings: Settings,
    private readonly index: PromptIndex,
  ) {
    super();
    const selector: vscode.DocumentSelector = { language: PROMPT_LANGUAGE };
    this._register(vscode.workspace.onDidOpenTextDocument((d) => this.update(d)));
    this._register(vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)));
    this._register(vscode.workspace.onDidCloseTextDocument((d) => this.forget(d)));
    this._register(vscode.window.onDidChangeVisibleTextEditors(() => this.decorateAll()));
    this._register(settings.onDidChange(['inlinePreview'], () => this.decorateAll()));
    this._register(vscode.languages.registerHoverProvider(selector, { provideHover: (d, p) => this.hover(d, p) }));
    this._register(vscode.languages.registerCompletionItemProvider(selector, { provideCompletionItems: (d, p) => this.complete(d, p) }, '{', '>', ' ', '"'));
    this._register(vscode.languages.registerDefinitionProvider(selector, { provideDefinition: (d, p) => this.definition(d, p) }));
    this._register(index.onDidChange(() => vscode.workspace.textDocuments.forEach((d) => this.checkPartials(d))));
    for (const d of vscode.workspace.textDocuments) this.update(d);
  }

  /** The parsed file and its analysis, computed once per document version. */
  analyze(document: vscode.TextDocument): { file: PromptFile; analysis: Analysis } {
    const key = document.uri.toString();
    const hit = this.cache.get(key);
    if (hit && hit.version === document.version) return hit;
    const file = parsePromptFile(document.getText());
    const entry = { version: document.version, file, analysis: analyzePromptFile(file) };
    this.cache.set(key, entry);
    return entry;
  }

  private schedule(document: vscode.TextDocument): void {
    if (document.languageId !== PROMPT_LANGUAGE) return;
    const key = document.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => this.update(document), 120));
  }

  private update(document: vscode.TextDocument): void {
    if (document.languageId !== PROMPT_LANGUAGE) return;
    const { analysis } = this.analyze(document);
    this.diagnostics.set(
      document.uri,
      analysis.diagnostics.map((d) => {
        const diagnostic = new vscode.Diagnostic(toRange(d.span), d.message, SEVERITY[d.severity]);
        diagnostic.source = 'prompt-registry';
        diagnostic.code = d.code;
        if (d.code === 'unused_sample') diagnostic.tags = [vscode.DiagnosticTag.Unnecessary];
        return diagnostic;
      }),
    );
    for (const editor of vscode.window.visibleTextEditors) if (editor.document === document) this.decorate(editor);
    void this.checkPartials(document);
  }

  /** The partial reference at a position, with its span in the document. */
  private partialAt(document: vscode.TextDocument, position: vscode.Position): { ref: PartialReference; range: vscode.Range } | undefined {
    const { file } = this.analyze(document);
    for (const ref of file.structure.partials) {
      const range = toRange(bodySpan(file, ref.start, ref.end));
      if (range.contains(position)) return { ref, range };
    }
    return undefined;
  }

  private async definition(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.LocationLink[] | undefined> {
    const at = this.partialAt(document, position);
    if (!at) return undefined;
    const uri = this.index.uriOf(await this.index.resolve(at.ref));
    return uri ? [{ originSelectionRange: at.range, targetUri: uri, targetRange: new vscode.Range(0, 0, 0, 0) }] : undefined;
  }

  /** Warns of each `{{> ref}}` that names no workspace file and nothing in the registry. */
  private async checkPartials(document: vscode.TextDocument): Promise<void> {
    if (document.languageId !== PROMPT_LANGUAGE || document.isClosed) return;
    const version = document.version;
    const { file } = this.analyze(document);
    const found: vscode.Diagnostic[] = [];
    for (const ref of file.structure.partials) {
      const target = await this.index.resolve(ref).catch(() => undefined);
      if (target?.kind !== 'missing') continue;
      const d = new vscode.Diagnostic(toRange(bodySpan(file, ref.start, ref.end)), `{{> ${ref.ref}}}: ${target.reason}`, vscode.DiagnosticSeverity.Warning);
      d.source = 'prompt-registry';
      d.code = 'partial_not_found';
      found.push(d);
    }
    if (document.version === version && !document.isClosed) this.partialDiagnostics.set(document.uri, found);
  }

  private decorateAll(): void {
    for (const editor of vscode.window.visibleTextEditors) if (editor.document.languageId === PROMPT_LANGUAGE) this.decorate(editor);
  }

  private decorate(editor: vscode.TextEditor): void {
    if (!this.settings.inlinePreview) {
      editor.setDecorations(this.sampleDecoration, []);
      editor.setDecorations(this.missingDecoration, []);
      return;
    }
    const { analysis } = this.analyze(editor.document);
    const found: vscode.DecorationOptions[] = [];
    const missing: vscode.DecorationOptions[] = [];
    for (const o of analysis.occurrences) {
      // The hint goes after the closing braces of the {{...}}.
      const line = editor.document.lineAt(o.span.endLine - 1).text;
      const close = line.indexOf('}}', o.span.endColumn - 1);
      const end = new vscode.Position(o.span.endLine - 1, close >= 0 ? close + (line.startsWith('}}}', close) ? 3 : 2) : o.span.endColumn - 1);
      const range = new vscode.Range(end, end);
      if (o.sample.found) found.push({ range, renderOptions: { after: { contentText: `= ${describeSample(o.sample.value)}` } } });
      else missing.push({ range, renderOptions: { after: { contentText: '= (no sample)' } } });
    }
    editor.setDecorations(this.sampleDecoration, found);
    editor.setDecorations(this.missingDecoration, missing);
  }

  private async hover(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const { file, analysis } = this.analyze(document);
    const partial = this.partialAt(document, position);
    if (partial) {
      const target = await this.index.resolve(partial.ref).catch((err: unknown) => ({ kind: 'missing' as const, reason: err instanceof Error ? err.message : String(err) }));
      const md = new vscode.MarkdownString(`**partial** \`${partial.ref.ref}\`: `);
      if (target.kind === 'file') md.appendMarkdown(`the workspace file \`${vscode.workspace.asRelativePath(target.uri)}\``);
      else if (target.kind === 'version') md.appendMarkdown(`${target.prompt} v${target.version} in the registry`);
      else md.appendMarkdown(target.reason);
      const text = target.kind === 'missing' ? undefined : await this.index.text(target).catch(() => undefined);
      if (text !== undefined) md.appendCodeblock(text.length > 800 ? `${text.slice(0, 800)}…` : text, 'handlebars');
      return new vscode.Hover(md, partial.range);
    }
    const o = analysis.occurrences.find((x) => toRange(x.span).contains(position));
    if (!o) return undefined;
    const md = new vscode.MarkdownString();
    const declared = (file.meta.inputSchema?.properties as Record<string, { type?: unknown; description?: string; enum?: unknown[] }> | undefined)?.[o.name];
    if (declared) {
      const type = declared.enum ? `one of ${declared.enum.map((e) => JSON.stringify(e)).join(', ')}` : Array.isArray(declared.type) ? declared.type.join(' | ') : String(declared.type ?? 'any');
      md.appendMarkdown(`**${o.name}** (${type})${declared.description ? `: ${declared.description}` : ''}\n\n`);
    }
    md.appendMarkdown(`**${o.text}**: `);
    if (o.sample.found) {
      md.appendMarkdown('sample value\n');
      md.appendCodeblock(typeof o.sample.value === 'string' ? o.sample.value : JSON.stringify(o.sample.value, null, 2), typeof o.sample.value === 'string' ? 'text' : 'json');
    } else {
      md.appendMarkdown(`no sample value: add \`${o.name}\` under \`${file.format === 'legacy' ? 'samples' : 'promptRegistry.samples'}:\` in the front matter.`);
    }
    return new vscode.Hover(md, toRange(o.span));
  }

  private async complete(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.CompletionItem[] | undefined> {
    const before = document.lineAt(position.line).text.slice(0, position.character);
    if (/\{\{>\s*"?[\w.@-]*$/.test(before)) {
      // {{> name}}: the workspace's prompts by registry name.
      return (await this.index.names()).map((name) => new vscode.CompletionItem(name, vscode.CompletionItemKind.Reference));
    }
    if (/\{\{~?role\s+"?\w*$/.test(before)) {
      return ['system', 'user', 'model', 'tool'].map((role) => {
        const item = new vscode.CompletionItem(role, vscode.CompletionItemKind.EnumMember);
        item.detail = role === 'model' ? 'the assistant' : undefined;
        return item;
      });
    }
    if (!/\{\{[#/^~]?\s*[\w.]*$/.test(before)) return undefined;
    const { file, analysis } = this.analyze(document);
    const samples = sampleValues(file);
    const declared = (file.meta.inputSchema?.properties as Record<string, { description?: string }> | undefined) ?? {};
    const names = new Set([...analysis.variables, ...Object.keys(declared), ...Object.keys(samples)]);
    return [...names].map((name) => {
      const item = new vscode.CompletionItem(name, vscode.CompletionItemKind.Variable);
      const sample = samples[name];
      item.detail = sample === undefined ? 'no sample value' : `sample: ${describeSample(sample)}`;
      if (declared[name]?.description) item.documentation = declared[name].description;
      return item;
    });
  }

  private forget(document: vscode.TextDocument): void {
    this.cache.delete(document.uri.toString());
    this.diagnostics.delete(document.uri);
    this.partialDiagnostics.delete(document.uri);
  }

  override dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    super.dispose();
  }
}
