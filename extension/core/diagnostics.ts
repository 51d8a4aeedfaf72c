/**
 * What the editor shows about a `.prompt` file: problems (with severity and
 * place), and each variable's sample value for the inline preview. Pure: the
 * template analysis is the registry's own engine.
 */
import { analyzeTemplate, TemplateError, type VariableOccurrence } from '../../server/templates/index.js';
import type { PromptFile, Span } from './prompt-file.js';

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
  const toDocument = (line: number, column: number, endLine: number, endColumn: number): Span => ({
    line: line + file.bodyLine,
    column,
    endLine: endLine + file.bodyLine,
    endColumn,
  });

  let variables: string[] = [];
  let occurrences: Occurrence[] = [];
  try {
    const analysis = analyzeTemplate(file.body);
    variables = analysis.variables;
    occurrences = analysis.occurrences.map((o) => ({
      ...o,
      span: toDocument(o.line, o.column, o.endLine, o.endColumn),
      sample: sampleAt(file.frontMatter.samples, o.path),
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

  const samples = file.frontMatter.samples ?? {};
  for (const o of occurrences) {
    if (!(o.name in samples)) {
      diagnostics.push({ severity: 'warning', message: `"${o.name}" has no sample value: add it under samples: in the front matter`, span: o.span, code: 'variable_without_sample' });
    }
  }
  for (const [name, span] of file.sampleKeys) {
    if (!variables.includes(name)) {
      diagnostics.push({ severity: 'hint', message: `the sample "${name}" is not used by the template`, span, code: 'unused_sample' });
    }
  }
  return { diagnostics, variables, occurrences };
}
