import { invalid } from '../errors.js';
import { validationIssues } from '../http/error-handler.js';
import { findJsonProblem, describeJsonPath } from '../http/json-limits.js';
import { itemInput, type ItemInput } from './schemas.js';

/** The most items one import or one POST of items may hold. */
export const MAX_IMPORT_ITEMS = 50_000;

const badLine = (line: number, message: string) =>
  invalid('invalid_dataset_row', `line ${line}: ${message}; nothing was imported`, { line });

function checkItem(value: unknown, line: number): ItemInput {
  const problem = findJsonProblem(value);
  if (problem) throw badLine(line, problem.code === 'json_too_deep' ? `nests too deep at ${describeJsonPath(problem.path)}` : `has an unpaired surrogate at ${describeJsonPath(problem.path)}`);
  const parsed = itemInput.safeParse(value);
  if (!parsed.success) {
    const first = validationIssues(parsed.error)[0]!;
    throw badLine(line, `${first.path}: ${first.message}`);
  }
  return parsed.data;
}

function checkCount(n: number): void {
  if (n > MAX_IMPORT_ITEMS) throw invalid('too_many_items', `an import holds at most ${MAX_IMPORT_ITEMS} items; split the file`, { max: MAX_IMPORT_ITEMS });
}

/** JSON Lines: one `{input, expected?, metadata?}` object per line; blank lines are skipped. A bad line refuses the whole file, naming it. */
export function parseJsonl(text: string): ItemInput[] {
  const items: ItemInput[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw badLine(i + 1, 'is not valid JSON');
    }
    items.push(checkItem(value, i + 1));
    checkCount(items.length);
  });
  return items;
}

/**
 * RFC 4180 records: fields separated by commas, quoted with "..." (a quote inside doubled),
 * quoted fields may span lines; CRLF or LF line ends. Each record carries the line it starts on.
 */
export function csvRecords(text: string): Array<{ line: number; fields: string[] }> {
  const records: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let atFieldStart = true;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
    fields = [];
    field = '';
    atFieldStart = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
    } else if (c === '"') {
      throw invalid('invalid_dataset_row', `line ${line}: a quote inside an unquoted field; quote the whole field and double the quote ("")`, { line });
    } else if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c;
      atFieldStart = false;
    }
  }
  if (quoted) throw invalid('invalid_dataset_row', `line ${start}: a quoted field is never closed; nothing was imported`, { line: start });
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}

/**
 * CSV with a header row: a column `expected` is the expected output, columns `metadata.<key>`
 * go to metadata, every other column (optionally written `input.<name>`) is an input variable.
 * Values are text. A row with a different number of fields than the header is refused, naming its line.
 */
export function parseCsv(text: string): ItemInput[] {
  const records = csvRecords(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const header = records.shift();
  if (!header) throw invalid('invalid_dataset_row', 'line 1: the CSV has no header row; nothing was imported', { line: 1 });
  const names = header.fields.map((f) => f.trim());
  const seen = new Set<string>();
  names.forEach((n) => {
    if (n === '') throw badLine(header.line, 'a column has no name');
    if (seen.has(n)) throw badLine(header.line, `the column "${n}" appears twice`);
    seen.add(n);
  });
  checkCount(records.length);
  return records.map(({ line, fields }) => {
    if (fields.length !== names.length) throw badLine(line, `has ${fields.length} fields, the header has ${names.length}`);
    const input: Record<string, unknown> = {};
    const metadata: Record<string, unknown> = {};
    let expected: string | undefined;
    names.forEach((n, i) => {
      const v = fields[i]!;
      if (n === 'expected') expected = v;
      else if (n.startsWith('metadata.')) metadata[n.slice('metadata.'.length)] = v;
      else input[n.startsWith('input.') ? n.slice('input.'.length) : n] = v;
    });
    return checkItem({ input, ...(expected !== undefined ? { expected } : {}), metadata }, line);
  });
}

const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const asText = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** Items as CSV in the form parseCsv reads: input columns, then expected, then metadata.<key> columns. */
export function toCsv(items: Array<{ input: Record<string, unknown>; expected: unknown; metadata: Record<string, unknown> }>): string {
  const inputs = [...new Set(items.flatMap((i) => Object.keys(i.input)))].sort();
  const metas = [...new Set(items.flatMap((i) => Object.keys(i.metadata)))].sort();
  const header = [...inputs.map((n) => (n === 'expected' || n.startsWith('metadata.') || n.startsWith('input.') ? `input.${n}` : n)), 'expected', ...metas.map((m) => `metadata.${m}`)];
  const rows = items.map((i) => [...inputs.map((n) => asText(i.input[n])), asText(i.expected), ...metas.map((m) => asText(i.metadata[m]))]);
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
