/**
 * How the preview renders one template: with the registry's own engine
 * (strict, within its budgets, Dotprompt's helpers included), partials
 * expanded first as Handlebars would. Pure.
 */
import { compileTemplate } from '../../shared/templates/index.js';
import { parseBody } from '../../shared/prompt-files/chat-template.js';

/** The body with each `{{> ref}}` replaced by its text (the partial statements' ranges, from the last). */
export function inlinePartials(body: string, refs: ReadonlyArray<{ ref: string; start: number; end: number }>, texts: Record<string, string>): string {
  let out = body;
  for (const r of [...refs].sort((a, b) => b.start - a.start)) {
    let start = r.start;
    let end = r.end;
    let text = texts[r.ref] ?? '';
    // Alone on its line, a partial is "standalone" in Handlebars: the line's own break goes, its indent indents the partial.
    const lineStart = out.lastIndexOf('\n', start - 1) + 1;
    const newline = out.indexOf('\n', end);
    const lineEnd = newline < 0 ? out.length : newline + 1;
    const indent = out.slice(lineStart, start);
    if (/^[ \t]*$/.test(indent) && /^[ \t]*\r?\n?$/.test(out.slice(end, lineEnd))) {
      start = lineStart;
      end = lineEnd;
      if (indent) text = text.replace(/^(?=.)/gm, indent);
    }
    out = out.slice(0, start) + text + out.slice(end);
  }
  return out;
}

/**
 * Renders a template with the registry's engine (strict, within its budgets, with Dotprompt's
 * `json`, `ifEquals`, `unlessEquals` and `section`), partials expanded first.
 */
export function renderWithEngine(template: string, samples: Record<string, unknown>, partials: Record<string, string>): string {
  const refs = parseBody(template).partials;
  const body = refs.length ? inlinePartials(template, refs, partials) : template;
  return compileTemplate(body).render(samples);
}

