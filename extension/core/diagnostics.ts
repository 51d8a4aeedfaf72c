/**
 * What the editor shows about a `.prompt` file: problems (with severity and
 * place), and each variable's sample value for the inline preview. Pure: the
 * template analysis is the registry's own engine.
 */
import { analyzeTemplate, TemplateError, type VariableOccurrence } from '../../shared/templates/index.js';
import { lineStarts, offsetAt, positionOf } from '../../shared/prompt-files/chat-template.js';
import { sampleValues, type PromptFile, type Span } from '../../shared/prompt-files/prompt-file.js';

export type Severity = 'error' | 'warning' | 'hint';

export interface Diagnostic {
  severity: Severity;
  message: string;
  span: Span;
  code: 'front_matter' | 'template_syntax_error' | 'template_unsupported' | 'variable_without_sample' | 'unused_sample';
}

export interface Occurrence extends VariableOccurrence {
  /** Placed in the document (1-based), not the template. */
  span: Span;
  /** The sample value at the occurrence's path, if the samples give one. */
  sample: { found: true; value: unknown } | { found: false };
}

export interface Analysis {
  diagnostics: Diagnostic[];
  variables: string[];
  occurrences: Occurrence[];
}

/** The value at a path in the samples: `customer.address.city`. */
export function sampleAt(samples: Record<string, unknown> | undefined, path: readonly string[]): Occurrence['sample'] {
  let value: unknown = samples;
  for (const part of path) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, part)) return { found: false };
    value = (value as Record<string, unknown>)[part];
  }
  return { found: true, value };
}

/** A sample as it would render, shortened for an inline hint. */
export function describeSample(value: unknown, max = 40): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

export function analyzePromptFile(file: PromptFile): Analysis {
  const diagnostics: Diagnostic[] = file.problems.map((p) => ({ severity: 'error', message: p.message, span: p.span, code: 'front_matter' }));
  // The engine reads the body with Dotprompt's role and history markers and the partials blanked
  // (chat-template.ts); its positions are mapped back to the body, then the document.
  const { analysable } = file.structure;
  const analysedStarts = lineStarts(analysable.text);
  const bodyStarts = lineStarts(file.body);
  const toBody = (line: number, column: number) => positionOf(bodyStarts, analysable.toBody(offsetAt(analysedStarts, line, column - 1)));
  const toDocument = (line: number, column: number, endLine: number, endColumn: number): Span => {
    const s = toBody(line, column);
    const e = toBody(endLine, endColumn);
    return { line: s.line + file.bodyLine, column: s.column, endLine: e.line + file.bodyLine, endColumn: e.column };
  };

  const samples = sampleValues(file);
  let variables: string[] = [];
  let occurrences: Occurrence[] = [];
  try {
    const analysis = analyzeTemplate(analysable.text);
    variables = analysis.variables;
    occurrences = analysis.occurrences.map((o) => ({
      ...o,
      span: toDocument(o.line, o.column, o.endLine, o.endColumn),
      sample: sampleAt(samples, o.path),
    }));
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    const line = Number(err.details.line ?? 1);
    const column = Number(err.details.column ?? 1);
    diagnostics.push({
      severity: 'error',
      message: err.message,
      span: toDocument(line, column, line, column + 1),
      code: err.code === 'template_unsupported' ? 'template_unsupported' : 'template_syntax_error',
    });
    return { diagnostics, variables, occurrences };
  }

  const where = file.format === 'legacy' ? 'samples:' : 'promptRegistry.samples:';
  for (const o of occurrences) {
    if (!(o.name in samples)) {
      diagnostics.push({ severity: 'warning', message: `"${o.name}" has no sample value: add it under ${where} in the front matter`, span: o.span, code: 'variable_without_sample' });
    }
  }
  // A placeholder's sample (a list of messages under its name) is used by the preview.
  const placeholders = new Set(file.structure.parts.flatMap((p) => (p.kind === 'placeholder' ? [p.name] : [])));
  for (const [name, span] of file.sampleKeys) {
    if (!variables.includes(name) && !placeholders.has(name)) {
      diagnostics.push({ severity: 'hint', message: `the sample "${name}" is not used by the template`, span, code: 'unused_sample' });
    }
  }
  return { diagnostics, variables, occurrences };
}
