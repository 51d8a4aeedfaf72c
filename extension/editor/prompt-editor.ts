import * as vscode from 'vscode';
import { analyzePromptFile, describeSample, type Analysis, type Diagnostic } from '../core/diagnostics.js';
import { parsePromptFile, type PromptFile, type Span } from '../core/prompt-file.js';
import type { Settings } from '../config.js';
import { Disposable } from '../lifecycle.js';

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

  constructor(private readonly settings: Settings) {
    super();
    const selector: vscode.DocumentSelector = { language: PROMPT_LANGUAGE };
    this._register(vscode.workspace.onDidOpenTextDocument((d) => this.update(d)));
    this._register(vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)));
    this._register(vscode.workspace.onDidCloseTextDocument((d) => this.forget(d)));
    this._register(vscode.window.onDidChangeVisibleTextEditors(() => this.decorateAll()));
    this._register(settings.onDidChange(['inlinePreview'], () => this.decorateAll()));
    this._register(vscode.languages.registerHoverProvider(selector, { provideHover: (d, p) => this.hover(d, p) }));
    this._register(vscode.languages.registerCompletionItemProvider(selector, { provideCompletionItems: (d, p) => this.complete(d, p) }, '{'));
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

  private hover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const { analysis } = this.analyze(document);
    const o = analysis.occurrences.find((x) => toRange(x.span).contains(position));
    if (!o) return undefined;
    const md = new vscode.MarkdownString();
    md.appendMarkdown(`**${o.text}**: `);
    if (o.sample.found) {
      md.appendMarkdown('sample value\n');
      md.appendCodeblock(typeof o.sample.value === 'string' ? o.sample.value : JSON.stringify(o.sample.value, null, 2), typeof o.sample.value === 'string' ? 'text' : 'json');
    } else {
      md.appendMarkdown(`no sample value: add \`${o.name}\` under \`samples:\` in the front matter.`);
    }
    return new vscode.Hover(md, toRange(o.span));
  }

  private complete(document: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] | undefined {
    const before = document.lineAt(position.line).text.slice(0, position.character);
    if (!/\{\{[#/^~]?\s*[\w.]*$/.test(before)) return undefined;
    const { file, analysis } = this.analyze(document);
    const names = new Set([...analysis.variables, ...Object.keys(file.frontMatter.samples ?? {})]);
    return [...names].map((name) => {
      const item = new vscode.CompletionItem(name, vscode.CompletionItemKind.Variable);
      const sample = file.frontMatter.samples?.[name];
      item.detail = sample === undefined ? 'no sample value' : `sample: ${describeSample(sample)}`;
      return item;
    });
  }

  private forget(document: vscode.TextDocument): void {
    this.cache.delete(document.uri.toString());
    this.diagnostics.delete(document.uri);
  }

  override dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    super.dispose();
  }
}
