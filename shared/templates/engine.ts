import Handlebars from 'handlebars';
import { TemplateError, syntaxError, unsupported } from './errors.js';
import { checkTemplateSize, outputExceeded, RenderBudget, templateLimits, type TemplateLimits } from './limits.js';

type Node = hbs.AST.Node;
type Program = hbs.AST.Program;
type Expression = hbs.AST.Expression;
type PathExpression = hbs.AST.PathExpression;
type MustacheStatement = hbs.AST.MustacheStatement;
type BlockStatement = hbs.AST.BlockStatement;
type SubExpression = hbs.AST.SubExpression;

/**
 * The block and inline helpers our templates may use: a subset we document and the Python client implements too.
 * Handlebars' own, and Dotprompt's `json`, `ifEquals`, `unlessEquals` and `section` (docs/templates.md).
 */
export const SUPPORTED_HELPERS = ['if', 'unless', 'each', 'with', 'lookup', 'json', 'ifEquals', 'unlessEquals', 'section'] as const;
const CONTEXT_HELPERS = new Set(['each', 'with']);
const CONDITION_HELPERS = new Set(['if', 'unless']);
const EQUALS_HELPERS = new Set(['ifEquals', 'unlessEquals']);
/** `{{json x}}` nests values at most this deep, and `indent=` is at most this many spaces (JSON.stringify's own cap). */
export const JSON_MAX_NESTING = 256;
const JSON_MAX_INDENT = 10;

// Internal helpers the rewritten AST calls: each output and each #each/#with
// subject passes through them, so a missing value is an error that names it.
const OUT = '__pr_out';
const REQUIRE = '__pr_require';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function outputHelper(value: unknown, name: string): string {
  if (value === undefined) {
    throw new TemplateError('missing_variable', `missing variable "${name}"`, { variable: name });
  }
  if (value === null) {
    throw new TemplateError('missing_variable', `variable "${name}" is null`, { variable: name });
  }
  if (typeof value === 'string') return wrote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return wrote(String(value));
  throw new TemplateError(
    'invalid_variable',
    `variable "${name}" is ${describe(value)}; output a string, number or boolean, or use a nested path or {{#each}}`,
    { variable: name },
  );
}

// The budget of the render in progress. Rendering is synchronous, so one slot (saved and restored
// around each render) is enough to reach it from the helpers.
let budget: RenderBudget | undefined;

function wrote(text: string): string {
  budget?.wrote(text);
  return text;
}

function requireHelper(value: unknown, name: string): unknown {
  if (value === undefined || value === null) {
    throw new TemplateError('missing_variable', `missing variable "${name}"`, { variable: name });
  }
  return value;
}

/**
 * `{{json x}}`: JSON.stringify(x, null, indent), as Dotprompt's helper prints it, but strict (an absent
 * `x` is missing_variable), bounded (nesting, and the output budget checked while it is built) and
 * the same in the Python client: values are what JSON carries; anything else is invalid_variable.
 */
function jsonHelper(value: unknown, name: string, indent: number): string {
  if (value === undefined) throw new TemplateError('missing_variable', `missing variable "${name}"`, { variable: name });
  const cap = budget?.outputCap ?? Infinity;
  const gap = ' '.repeat(indent);
  const parts: string[] = [];
  let units = 0;
  const put = (text: string): void => {
    units += text.length;
    if (units > cap) throw outputExceeded(cap / 2);
    parts.push(text);
  };
  const unusable = (what: string): never => {
    throw new TemplateError('invalid_variable', `variable "${name}" ${what}; {{json}} prints only what JSON holds`, { variable: name });
  };
  const write = (v: unknown, depth: number): void => {
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(): unknown }).toJSON();
    if (v === null) return put('null');
    switch (typeof v) {
      case 'string':
        return put(JSON.stringify(v));
      case 'number':
        return put(Number.isFinite(v) ? String(v) : 'null');
      case 'boolean':
        return put(String(v));
      case 'object':
        break;
      default:
        return unusable(`holds ${typeof v === 'bigint' ? 'a bigint' : `a ${typeof v}`}`);
    }
    if (depth >= JSON_MAX_NESTING) unusable(`nests deeper than ${JSON_MAX_NESTING} levels`);
    const inner = gap ? `\n${gap.repeat(depth + 1)}` : '';
    const outer = gap ? `\n${gap.repeat(depth)}` : '';
    if (Array.isArray(v)) {
      if (v.length === 0) return put('[]');
      put('[');
      v.forEach((item, i) => {
        put(i ? `,${inner}` : inner);
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') put('null');
        else write(item, depth + 1);
      });
      return put(`${outer}]`);
    }
    let first = true;
    put('{');
    for (const key of Object.keys(v as object)) {
      const item = (v as Record<string, unknown>)[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      put(`${first ? '' : ','}${inner}${JSON.stringify(key)}${gap ? ': ' : ':'}`);
      first = false;
      write(item, depth + 1);
    }
    put(first ? '}' : `${outer}}`);
  };
  write(value, 0);
  return wrote(parts.join(''));
}

// Dotprompt's #ifEquals / #unlessEquals: a strict (===) comparison, the body or the {{else}} in the same context.
function equalsHelper(same: boolean) {
  return function (this: unknown, a: unknown, b: unknown, options: Handlebars.HelperOptions): string {
    return (a === b) === same ? options.fn(this) : options.inverse(this);
  };
}

const env = Handlebars.create();
for (const name of Object.keys(env.helpers)) if (!(SUPPORTED_HELPERS as readonly string[]).includes(name)) env.unregisterHelper(name);
// #each as Handlebars has it (@index, @key, @first, @last, else, block params), with each body run
// counted against the render's budget.
const handlebarsEach = env.helpers.each!;
env.registerHelper('each', function (this: unknown, context: unknown, options: Handlebars.HelperOptions) {
  const body = options.fn;
  const counted = Object.assign((ctx: unknown, opts?: Handlebars.RuntimeOptions) => {
    budget?.enterBody();
    const output = body(ctx, opts);
    budget?.leaveBody(output);
    return output;
  }, body);
  return handlebarsEach.call(this, context, { ...options, fn: counted });
});
env.registerHelper(OUT, (value: unknown, name: unknown) => outputHelper(value, String(name)));
env.registerHelper('json', (value: unknown, name: unknown, options: Handlebars.HelperOptions) =>
  jsonHelper(value, String(name), Number((options.hash as { indent?: number } | undefined)?.indent ?? 0)),
);
env.registerHelper('ifEquals', equalsHelper(true));
env.registerHelper('unlessEquals', equalsHelper(false));
// Dotprompt's {{section "name"}} marks where Genkit puts a pending part (its output instructions, say); a registry
// prompt is text, so it leaves nothing (the text Dotprompt renders around it is the same).
env.registerHelper('section', () => '');
env.registerHelper(REQUIRE, (value: unknown, name: unknown) => requireHelper(value, String(name)));

const COMPILE_OPTIONS = {
  noEscape: true,
  strict: false,
  knownHelpersOnly: true,
  knownHelpers: {
    [OUT]: true,
    [REQUIRE]: true,
    if: true,
    unless: true,
    each: true,
    with: true,
    lookup: true,
    json: true,
    ifEquals: true,
    unlessEquals: true,
    section: true,
  },
} as const;

const parser = (Handlebars as unknown as { Parser: { lexer: { yylloc?: { first_line: number; first_column: number } } } }).Parser;

// Jison's token names, in words a template author knows.
const TOKEN_NAMES: Record<string, string> = {
  CLOSE: '"}}"',
  CLOSE_UNESCAPED: '"}}}"',
  OPEN: '"{{"',
  OPEN_BLOCK: '"{{#"',
  OPEN_ENDBLOCK: '"{{/"',
  OPEN_INVERSE: '"{{^"',
  INVERSE: '"{{else}}"',
  ID: 'name',
  OPEN_SEXPR: '"("',
  CLOSE_SEXPR: '")"',
};

function parse(source: string): Program {
  try {
    return env.parse(source);
  } catch (err) {
    const e = err as Error & { lineNumber?: number; column?: number };
    if (typeof e.lineNumber === 'number') {
      return failWith(syntaxError(e.message.replace(/ - \d+:\d+$/, ''), e.lineNumber, (e.column ?? 0) + 1));
    }
    // Jison's parse errors lose the position; the lexer still holds it.
    const loc = parser.lexer.yylloc;
    const got = /got '([A-Z_]+)'/.exec(e.message)?.[1];
    const what =
      got === 'EOF'
        ? 'the template ends inside an unclosed {{...}} tag or {{#block}}'
        : got === 'INVALID'
          ? 'unexpected character inside {{...}}'
          : got
            ? `unexpected ${TOKEN_NAMES[got] ?? got.toLowerCase().replace(/_/g, ' ')}`
            : 'cannot parse the template';
    return failWith(syntaxError(what, loc?.first_line ?? 1, (loc?.first_column ?? 0) + 1));
  }
}

function failWith(err: TemplateError): never {
  throw err;
}

function position(node: Node): [number, number] {
  return [node.loc?.start.line ?? 1, (node.loc?.start.column ?? 0) + 1];
}

function pathText(path: PathExpression): string {
  return path.original;
}

function isPath(node: Node): node is PathExpression {
  return node.type === 'PathExpression';
}

function literal(value: string): hbs.AST.StringLiteral {
  return { type: 'StringLiteral', value, original: value, loc: undefined as unknown as hbs.AST.SourceLocation };
}

function subExpression(path: PathExpression, params: Expression[], hash: hbs.AST.Hash | undefined, loc: hbs.AST.SourceLocation): SubExpression {
  return { type: 'SubExpression', path, params, hash: hash as hbs.AST.Hash, loc };
}

function helperPath(name: string, loc: hbs.AST.SourceLocation): PathExpression {
  return { type: 'PathExpression', data: false, depth: 0, parts: [name], original: name, loc } as PathExpression;
}

/** Text of an expression as the author wrote it, for error messages. */
function expressionText(node: Expression): string {
  if (isPath(node)) return pathText(node);
  if (node.type === 'SubExpression') {
    const s = node as SubExpression;
    return [expressionText(s.path as Expression), ...s.params.map(expressionText)].join(' ');
  }
  return String((node as hbs.AST.Literal & { original?: unknown }).original ?? '');
}

/** `{{json value}}` or `{{json value indent=N}}`, N a whole number 0 to 10, and only as a tag of its own. */
function checkJson(node: SubExpression | MustacheStatement | BlockStatement, line: number, column: number): void {
  const pairs = node.hash?.pairs ?? [];
  const indent = pairs[0]?.value as hbs.AST.NumberLiteral | undefined;
  const indentOk =
    pairs.length === 0 ||
    (pairs.length === 1 && pairs[0]!.key === 'indent' && indent?.type === 'NumberLiteral' && Number.isInteger(indent.value) && indent.value >= 0 && indent.value <= JSON_MAX_INDENT);
  if (node.type !== 'MustacheStatement' || node.params.length !== 1 || !indentOk) {
    throw unsupported(`json other than as {{json value}} or {{json value indent=N}} (N from 0 to ${JSON_MAX_INDENT})`, line, column);
  }
}

interface Scope {
  /** How many #each/#with contexts deep we are. */
  depth: number;
  /** Block params (`as |item i|`) visible here. */
  locals: ReadonlySet<string>;
}

/**
 * Walks the parsed template once: refuses what we don't support, collects the
 * root variables in order of first use, and rewrites outputs and block
 * subjects to pass through the strictness helpers.
 */
class Analyzer {
  readonly variables: string[] = [];
  readonly occurrences: VariableOccurrence[] = [];
  /** Partial references (`{{> name}}`, `{{> "name@3"}}`) as written, in order of first use. */
  readonly partials: string[] = [];
  private readonly seen = new Set<string>();

  private addVariable(name: string, path: PathExpression): void {
    if (!this.seen.has(name)) {
      this.seen.add(name);
      this.variables.push(name);
    }
    const loc = path.loc;
    if (loc) {
      this.occurrences.push({
        name,
        path: path.data ? path.parts.slice(1) : [...path.parts],
        text: path.original,
        line: loc.start.line,
        column: loc.start.column + 1,
        endLine: loc.end.line,
        endColumn: loc.end.column + 1,
      });
    }
  }

  private notePath(path: PathExpression, scope: Scope): void {
    if (path.data) {
      // @root.x names root variable x; @index, @key, @first, @last are the loop's own.
      if (path.parts[0] === 'root' && path.parts[1]) this.addVariable(path.parts[1], path);
      return;
    }
    const head = path.parts[0];
    if (head === undefined) return; // `this` or `..`
    if (path.depth === 0 && !path.original.startsWith('this') && scope.locals.has(head)) return;
    if (scope.depth - path.depth <= 0) this.addVariable(head, path);
  }

  private expression(node: Expression, scope: Scope): void {
    if (isPath(node)) this.notePath(node, scope);
    else if (node.type === 'SubExpression') this.call(node as SubExpression, scope);
  }

  private call(node: SubExpression | MustacheStatement | BlockStatement, scope: Scope): void {
    const path = node.path as Expression;
    const hasArgs = node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
    // A (subexpression) is always a helper call, even with no arguments.
    if (hasArgs || node.type === 'BlockStatement' || node.type === 'SubExpression') {
      const [line, column] = position(node);
      if (!isPath(path) || path.parts.length !== 1 || path.data) {
        throw unsupported(`calling "${expressionText(path)}" as a helper`, line, column);
      }
      const name = path.parts[0] ?? '';
      if (!(SUPPORTED_HELPERS as readonly string[]).includes(name)) {
        throw new TemplateError(
          'template_unsupported',
          `unknown helper "${name}" at line ${line}, column ${column}; supported helpers are ${SUPPORTED_HELPERS.join(', ')}`,
          { line, column, helper: name },
        );
      }
      if (scope.locals.has(name)) throw unsupported(`the helper "${name}", hidden by a block parameter of the same name,`, line, column);
      const isBlockHelper = CONTEXT_HELPERS.has(name) || CONDITION_HELPERS.has(name) || EQUALS_HELPERS.has(name);
      if (isBlockHelper && node.type !== 'BlockStatement') {
        throw unsupported(`"${name}" outside a block (write {{#${name} …}}…{{/${name}}})`, line, column);
      }
      if (name === 'lookup' && (node.type === 'BlockStatement' || node.params.length !== 2 || (node.hash?.pairs.length ?? 0) > 0)) {
        throw unsupported('lookup other than as {{lookup object key}}', line, column);
      }
      if (name === 'json') checkJson(node, line, column);
      if (name === 'section' && (node.type !== 'MustacheStatement' || node.params.length !== 1 || node.params[0]!.type !== 'StringLiteral' || (node.hash?.pairs.length ?? 0) > 0)) {
        throw unsupported('section other than as {{section "name"}}', line, column);
      }
      if (EQUALS_HELPERS.has(name) && (node.hash?.pairs.length ?? 0) > 0) throw unsupported(`hash arguments (key=value) on #${name}`, line, column);
    } else {
      this.expression(path, scope);
    }
    for (const p of node.params) this.expression(p, scope);
    for (const pair of node.hash?.pairs ?? []) this.expression(pair.value, scope);
  }

  program(program: Program | undefined, scope: Scope): void {
    if (!program) return;
    for (const statement of program.body) this.statement(statement, scope);
  }

  private statement(node: hbs.AST.Statement, scope: Scope): void {
    switch (node.type) {
      case 'ContentStatement':
      case 'CommentStatement':
        return;
      case 'MustacheStatement': {
        const m = node as MustacheStatement;
        this.call(m, scope);
        const helper = isPath(m.path as Expression) ? (m.path as PathExpression).original : '';
        if (helper === 'section' && m.params.length > 0) return;
        if (helper === 'json' && m.params.length > 0) {
          // {{json x indent=2}} becomes {{json x "x" indent=2}}: the helper names what is missing.
          m.params = [m.params[0]!, literal(expressionText(m.params[0]!))];
          return;
        }
        // {{x}} / {{lookup a b}} become {{__pr_out x "x"}} / {{__pr_out (lookup a b) "lookup a b"}}.
        const hasArgs = m.params.length > 0 || (m.hash?.pairs.length ?? 0) > 0;
        const subject: Expression = hasArgs ? subExpression(m.path as PathExpression, m.params, m.hash, m.loc) : (m.path as Expression);
        m.params = [subject, literal(expressionText(subject))];
        m.path = helperPath(OUT, m.loc);
        m.hash = undefined as unknown as hbs.AST.Hash;
        return;
      }
      case 'BlockStatement': {
        const b = node as BlockStatement;
        this.call(b, scope);
        const name = (b.path as PathExpression).parts[0] ?? '';
        if (CONTEXT_HELPERS.has(name)) {
          const [subject] = b.params;
          if (b.params.length !== 1 || !subject) {
            const [line, column] = position(b);
            throw syntaxError(`#${name} takes exactly one argument`, line, column);
          }
          b.params = [subExpression(helperPath(REQUIRE, b.loc), [subject, literal(expressionText(subject))], undefined, b.loc)];
          const locals = new Set(scope.locals);
          // {{^each x}}…{{/each}} has no program, only an inverse.
          for (const p of b.program?.blockParams ?? []) locals.add(p);
          this.program(b.program, { depth: scope.depth + 1, locals });
        } else if (CONDITION_HELPERS.has(name) || EQUALS_HELPERS.has(name)) {
          const arity = EQUALS_HELPERS.has(name) ? 2 : 1;
          if (b.params.length !== arity) {
            const [line, column] = position(b);
            throw syntaxError(arity === 2 ? `#${name} takes exactly two arguments` : `#${name} takes exactly one argument`, line, column);
          }
          if (b.program?.blockParams?.length) {
            const [line, column] = position(b);
            throw unsupported(`block parameters (as |…|) on #${name}`, line, column);
          }
          this.program(b.program, scope);
        } else {
          const [line, column] = position(b);
          throw unsupported(`the block helper "#${name}"`, line, column);
        }
        this.program(b.inverse, scope);
        return;
      }
      case 'PartialStatement': {
        // {{> name}} or {{> "name@3"}}: another prompt's text, in the current context. No arguments, no dynamic names.
        const p = node as hbs.AST.PartialStatement;
        const [line, column] = position(node);
        const name = p.name as Expression;
        const ref = isPath(name) && !name.data && name.depth === 0 ? name.original : name.type === 'StringLiteral' ? (name as hbs.AST.StringLiteral).value : undefined;
        if (ref === undefined || ref === '') throw unsupported('a partial name other than {{> name}} or {{> "name@version"}}', line, column);
        if (p.params.length > 0 || (p.hash?.pairs.length ?? 0) > 0) throw unsupported(`arguments to the partial "${ref}"`, line, column);
        if (!this.partials.includes(ref)) this.partials.push(ref);
        return;
      }
      case 'PartialBlockStatement': {
        const [line, column] = position(node);
        throw unsupported('a partial block ({{#> …}})', line, column);
      }
      case 'DecoratorBlock':
      case 'Decorator': {
        const [line, column] = position(node);
        throw unsupported('a decorator', line, column);
      }
      default: {
        const [line, column] = position(node);
        throw unsupported(`"${node.type}"`, line, column);
      }
    }
  }
}

/** Where a template reads a root variable: `{{customer.name}}` reads `customer` at path ["customer", "name"]. */
export interface VariableOccurrence {
  name: string;
  path: string[];
  /** The expression as written. */
  text: string;
  /** 1-based, within the template. */
  line: number;
  column: number;
  endLine: number;
  /** Exclusive. */
  endColumn: number;
}

export interface CompiledTemplate {
  /** Root variables in order of first use. */
  readonly variables: readonly string[];
  /** Partial references as written (`safety`, `safety@3`), in order of first use. */
  readonly partials: readonly string[];
  /**
   * Renders strictly: throws TemplateError naming a missing or unusable variable, or render_too_large past a budget.
   * `partials` holds a compiled template for every reference the template (and the partials it includes) makes.
   */
  render(variables: Record<string, unknown>, partials?: Readonly<Record<string, CompiledTemplate>>): string;
}

type HandlebarsTemplate = (context: unknown, options?: Handlebars.RuntimeOptions) => string;
/** The compiled Handlebars function behind each CompiledTemplate, for registering it as a partial. */
const functions = new WeakMap<CompiledTemplate, HandlebarsTemplate>();

function runtimePartials(partials: Readonly<Record<string, CompiledTemplate>>): Record<string, HandlebarsTemplate> {
  const out: Record<string, HandlebarsTemplate> = {};
  for (const [ref, template] of Object.entries(partials)) out[ref] = functions.get(template)!;
  return out;
}

function missingPartial(ref: string): HandlebarsTemplate {
  return () => {
    throw new TemplateError('missing_partial', `the partial "${ref}" was not given`, { partial: ref });
  };
}

/**
 * Several templates (a chat prompt's messages) and the partials they include, made ready to render
 * again and again against different variables: the template workers keep one per render job.
 */
export interface PreparedTemplates {
  /** One output per template, under one render budget: the limits hold for the whole prompt, not for each message. */
  render(data: Record<string, unknown>): string[];
}

/**
 * Each call of a Handlebars template from outside (not as a partial) sets it up anew: it copies and
 * wraps every helper and builds the prototype-access rules, the larger part of rendering a short
 * template. So several templates are rendered in one call: a wrapper template that includes each
 * as a partial, named here, whose output is kept aside (the wrapper's own output is nothing). As
 * partials they get the wrapper's helpers, partials, access rules and data (@root is the same
 * variables), and their output is their own, never re-indented: what each renders is what it
 * renders alone.
 */
const TEMPLATE_PARTIAL = '__pr_template_';
/** Wrappers kept for up to this many templates (one per count); more are compiled for each preparation. */
const MAX_KEPT_WRAPPER = 64;
const wrappers = new Map<number, HandlebarsTemplate>();

function wrapperFor(count: number): HandlebarsTemplate {
  let wrapper = wrappers.get(count);
  if (!wrapper) {
    const source = Array.from({ length: count }, (_, i) => `{{> ${TEMPLATE_PARTIAL}${i}}}`).join('');
    wrapper = env.compile(source, COMPILE_OPTIONS) as unknown as HandlebarsTemplate;
    if (count <= MAX_KEPT_WRAPPER) wrappers.set(count, wrapper);
  }
  return wrapper;
}

export function prepareTemplates(
  templates: readonly CompiledTemplate[],
  partials: Readonly<Record<string, CompiledTemplate>>,
  given: Partial<TemplateLimits> = {},
): PreparedTemplates {
  const limits = templateLimits(given);
  const runtime = runtimePartials(partials);
  // A reference left out is an error that names it (Handlebars' own message would not).
  for (const t of templates) for (const ref of t.partials) runtime[ref] ??= missingPartial(ref);
  const functionsOf = templates.map((t) => functions.get(t)!);
  // The wrapper's names cannot clash with a reference the templates make or a partial given (no registry
  // name starts so; should one, the templates are called one by one, as before).
  const clash = Object.keys(runtime).some((ref) => ref.startsWith(TEMPLATE_PARTIAL));
  let sink: string[] = [];
  let call: (data: Record<string, unknown>, options: Handlebars.RuntimeOptions) => string[];
  if (functionsOf.length === 1) {
    const only = functionsOf[0]!;
    call = (data, options) => [only(data, options)];
  } else if (functionsOf.length === 0 || clash) {
    call = (data, options) => functionsOf.map((fn) => fn(data, options));
  } else {
    const wrapper = wrapperFor(functionsOf.length);
    functionsOf.forEach((fn, i) => {
      runtime[`${TEMPLATE_PARTIAL}${i}`] = (context: unknown, options?: Handlebars.RuntimeOptions) => {
        sink[i] = fn(context, options);
        return '';
      };
    });
    call = (data, options) => {
      sink = new Array<string>(functionsOf.length);
      wrapper(data, options);
      return sink;
    };
  }
  return {
    render(data) {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        throw new TemplateError('invalid_variable', 'variables must be an object of names to values');
      }
      const outer = budget;
      budget = new RenderBudget(limits);
      try {
        const outputs = call(data, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false, partials: runtime });
        // One text's check covers the total: the budget is the prompt's.
        budget.finish(outputs.join(''));
        return outputs;
      } finally {
        budget = outer;
      }
    },
  };
}

/**
 * Renders several templates (a chat prompt's messages) against the same variables and partials,
 * under one render budget: the limits hold for the whole prompt, not for each message.
 */
export function renderTemplates(
  templates: readonly CompiledTemplate[],
  data: Record<string, unknown>,
  partials: Readonly<Record<string, CompiledTemplate>>,
  given: Partial<TemplateLimits> = {},
): string[] {
  return prepareTemplates(templates, partials, given).render(data);
}

function analyze(source: string, limits: TemplateLimits): { program: Program; variables: string[]; occurrences: VariableOccurrence[]; partials: string[] } {
  // Before the parser: it is slow on many tags and quadratic on deep nesting.
  checkTemplateSize(source, limits);
  return withinStack(limits, () => {
    const program = parse(source);
    const analyzer = new Analyzer();
    analyzer.program(program, { depth: 0, locals: new Set() });
    return { program, variables: analyzer.variables, occurrences: analyzer.occurrences, partials: analyzer.partials };
  });
}

/**
 * Sub-expressions nested thousands deep inside one tag, e.g. `(lookup (lookup …) b)`, pass the
 * pre-scan (it counts blocks, not parentheses) but overflow the parser's and compiler's recursion:
 * that is the depth limit too (the Python client does the same with its RecursionError).
 */
function withinStack<T>(limits: TemplateLimits, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new TemplateError('template_too_large', `the template nests expressions too deep to parse; the limit is ${limits.maxDepth} levels`, {
        limit: 'depth',
        max: limits.maxDepth,
      });
    }
    throw err;
  }
}

/**
 * The root variables and where each is read, for editors. Throws
 * TemplateError (with line and column) on a broken or unsupported template.
 */
export function analyzeTemplate(source: string, limits: Partial<TemplateLimits> = {}): { variables: string[]; occurrences: VariableOccurrence[] } {
  const { variables, occurrences } = analyze(source, templateLimits(limits));
  return { variables, occurrences };
}

/**
 * Parses and checks a template; throws TemplateError with line and column on a syntax error, or
 * template_too_large beyond the compile limits. Its renders keep to the render limits.
 */
export function compileTemplate(source: string, given: Partial<TemplateLimits> = {}): CompiledTemplate {
  const limits = templateLimits(given);
  const { program, variables, partials } = analyze(source, limits);
  const render = env.compile(program as unknown as string, COMPILE_OPTIONS);
  try {
    // Handlebars compiles lazily; compile now so errors surface here, not at first render
    // (a TemplateError from rendering nothing, such as a missing variable, is expected).
    const stubs = Object.fromEntries(partials.map((ref) => [ref, () => '']));
    withinStack(limits, () => (render as unknown as (ctx: unknown, opts: unknown) => string)({}, { helpers: {}, partials: stubs }));
  } catch (err) {
    if (!(err instanceof TemplateError)) {
      const e = err as Error & { lineNumber?: number; column?: number };
      if (typeof e.lineNumber === 'number') throw syntaxError(e.message.replace(/ - \d+:\d+$/, ''), e.lineNumber, (e.column ?? 0) + 1);
      throw err;
    }
  }
  const compiled: CompiledTemplate = {
    variables,
    partials,
    render(data, given = {}) {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        throw new TemplateError('invalid_variable', 'variables must be an object of names to values');
      }
      const outer = budget;
      budget = new RenderBudget(limits);
      try {
        const runtime = { ...Object.fromEntries(partials.map((ref) => [ref, missingPartial(ref)])), ...runtimePartials(given) };
        return budget.finish(render(data, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false, partials: runtime }));
      } finally {
        budget = outer;
      }
    },
  };
  functions.set(compiled, render as unknown as HandlebarsTemplate);
  return compiled;
}

/** The root variables a template uses, in order of first use. */
export function extractVariables(source: string, limits: Partial<TemplateLimits> = {}): string[] {
  return analyze(source, templateLimits(limits)).variables;
}

