"""The template engine: the registry's Handlebars subset, strict, with the server's results.

``compile_template(source)`` parses and checks a template once; the result's
``render(variables)`` is cheap and can run many times. The semantics are the
server's (``server/templates/engine.ts`` on Handlebars 4.7), and the shared
vectors in ``test/vectors/render.json`` hold both to the same results:

- ``{{x}}``, ``{{{x}}}``, nested paths (``a.b``, ``a/b``, ``this``, ``../x``,
  ``@root.x``, ``[segment]``), ``#if``/``#unless`` (with ``else`` and
  ``else if``), ``#each`` (lists and dicts, ``as |item i|``, ``@index``,
  ``@key``, ``@first``, ``@last``), ``#with``, ``lookup``, comments and ``~``;
- Dotprompt's helpers: ``{{json x}}`` (``indent=N``), ``#ifEquals a b`` and
  ``#unlessEquals a b`` (with ``else``), ``{{section "name"}}`` (prints nothing);
- an output of something missing or null raises ``missing_variable``, of a
  dict or list ``invalid_variable``; ``#each``/``#with`` need their subject;
  ``#if``/``#unless`` accept an absent value as false;
- ``{{> name}}`` and ``{{> "name@3"}}`` render the partial given under that
  reference (``render(..., partials=...)``) in the current context, a
  standalone one indented as its line; one not given raises
  ``missing_partial``, nesting deeper than 8 ``reference_too_deep``;
- anything else (other helpers, partial blocks, decorators) raises
  ``template_unsupported``; a template that does not parse,
  ``template_syntax_error``; both with ``line`` and ``column``;
- compiling and rendering have a budget (``limits``: ``template_too_large``,
  ``render_too_large``), the same as the server's (``test/vectors/render-limits.json``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from . import _syntax as syn
from ._js import MISSING, NULL_CONTEXT, describe, get_property, is_empty, loose_equal, number_to_string, own_keys, to_string, truthy
from .errors import TemplateError
from .limits import DEFAULT_LIMITS, Budget, Limits, TemplateLimits, check_source, resolve_limits

__all__ = ["MAX_PARTIAL_DEPTH", "SUPPORTED_HELPERS", "CompiledTemplate", "compile_template", "extract_variables", "render"]

#: How deep partials may nest (a partial including a partial ...), as the registry allows.
MAX_PARTIAL_DEPTH = 8

SUPPORTED_HELPERS: Tuple[str, ...] = ("if", "unless", "each", "with", "lookup", "json", "ifEquals", "unlessEquals", "section")
_CONTEXT_HELPERS = frozenset(["each", "with"])
_CONDITION_HELPERS = frozenset(["if", "unless"])
_EQUALS_HELPERS = frozenset(["ifEquals", "unlessEquals"])
#: ``{{json x}}`` nests values at most this deep; ``indent=`` is at most 10 spaces (JSON.stringify's own cap).
JSON_MAX_NESTING = 256
_JSON_MAX_INDENT = 10
# Names Handlebars calls as helpers even without arguments inside (...): the
# server has none of them but lookup and the block helpers, which fail there.
_KNOWN_HELPERS = frozenset(["if", "unless", "each", "with", "lookup", "log", "helperMissing", "blockHelperMissing"])
_SCOPED = re.compile(r"^\.|this\b", re.ASCII)
# A block body with at most this many tags is joined before its output is
# measured: the string it builds is at most that many values long.
_FEW_PARTS = 16


def _unsupported(what: str, line: int, column: int) -> TemplateError:
    return TemplateError(
        "template_unsupported",
        f"{what} at line {line}, column {column} is not supported in prompt templates",
        {"line": line, "column": column},
    )


def _position(node: syn.Node) -> Tuple[int, int]:
    return node.line, node.column + 1


def _literal_text(original: Any) -> str:
    # String(original ?? ''), as the server names a literal in messages.
    if original is None or original is MISSING:
        return ""
    return to_string(original)


def _expression_text(node: Any) -> str:
    """An expression as the author wrote it (the name errors give)."""
    if isinstance(node, syn.PathExpression):
        return node.original
    if isinstance(node, syn.SubExpression):
        return " ".join([_expression_text(node.path)] + [_expression_text(p) for p in node.params])
    return _literal_text(getattr(node, "original", None))


# ---------------------------------------------------------------------------
# Checking: what the server refuses, and the variables a template reads


class _Analyzer:
    """Walks the tree as the server's Analyzer does: refuses what is not
    supported (first problem in document order) and collects the root
    variables in order of first use."""

    def __init__(self) -> None:
        self.variables: List[str] = []
        self._seen: Set[str] = set()
        #: Partial references as written (``safety``, ``safety@3``), in order of first use.
        self.partials: List[str] = []

    def _add(self, name: str) -> None:
        if name not in self._seen:
            self._seen.add(name)
            self.variables.append(name)

    def _note_path(self, path: syn.PathExpression, depth: int, locals_: FrozenSet[str]) -> None:
        if path.data:
            if len(path.parts) > 1 and path.parts[0] == "root" and path.parts[1]:
                self._add(path.parts[1])
            return
        if not path.parts:
            return
        head = path.parts[0]
        if path.depth == 0 and not path.original.startswith("this") and head in locals_:
            return
        if depth - path.depth <= 0:
            self._add(head)

    def _expression(self, node: Any, depth: int, locals_: FrozenSet[str]) -> None:
        if isinstance(node, syn.PathExpression):
            self._note_path(node, depth, locals_)
        elif isinstance(node, syn.SubExpression):
            self._call(node, depth, locals_)

    def _call(self, node: Any, depth: int, locals_: FrozenSet[str]) -> None:
        path = node.path
        has_args = bool(node.params) or bool(node.hash and node.hash.pairs)
        kind = getattr(node, "type", None)
        # A (subexpression) is always a helper call, even with no arguments.
        if has_args or kind in ("BlockStatement", "SubExpression"):
            line, column = _position(node)
            if not isinstance(path, syn.PathExpression) or len(path.parts) != 1 or path.data:
                raise _unsupported(f'calling "{_expression_text(path)}" as a helper', line, column)
            name = path.parts[0]
            if name not in SUPPORTED_HELPERS:
                raise TemplateError(
                    "template_unsupported",
                    f'unknown helper "{name}" at line {line}, column {column}; supported helpers are {", ".join(SUPPORTED_HELPERS)}',
                    {"line": line, "column": column, "helper": name},
                )
            if name in locals_:
                raise _unsupported(f'the helper "{name}", hidden by a block parameter of the same name,', line, column)
            if (name in _CONTEXT_HELPERS or name in _CONDITION_HELPERS or name in _EQUALS_HELPERS) and kind != "BlockStatement":
                raise _unsupported(f'"{name}" outside a block (write {{{{#{name} …}}}}…{{{{/{name}}}}})', line, column)
            if name == "lookup" and (kind == "BlockStatement" or len(node.params) != 2 or bool(node.hash and node.hash.pairs)):
                raise _unsupported("lookup other than as {{lookup object key}}", line, column)
            if name == "json":
                _check_json(node, kind, line, column)
            if name == "section" and (
                kind != "MustacheStatement"
                or len(node.params) != 1
                or getattr(node.params[0], "type", None) != "StringLiteral"
                or bool(node.hash and node.hash.pairs)
            ):
                raise _unsupported('section other than as {{section "name"}}', line, column)
            if name in _EQUALS_HELPERS and node.hash and node.hash.pairs:
                raise _unsupported(f"hash arguments (key=value) on #{name}", line, column)
        else:
            self._expression(path, depth, locals_)
        for param in node.params:
            self._expression(param, depth, locals_)
        if node.hash:
            for _, value in node.hash.pairs:
                self._expression(value, depth, locals_)

    def program(self, program: Optional[syn.Program], depth: int, locals_: FrozenSet[str]) -> None:
        if program is None:
            return
        for statement in program.body:
            self._statement(statement, depth, locals_)

    def _statement(self, node: syn.Node, depth: int, locals_: FrozenSet[str]) -> None:
        if isinstance(node, (syn.ContentStatement, syn.CommentStatement)):
            return
        if isinstance(node, syn.MustacheStatement) and node.type == "MustacheStatement":
            self._call(node, depth, locals_)
            return
        if isinstance(node, syn.BlockStatement) and node.type == "BlockStatement":
            self._call(node, depth, locals_)
            name = node.path.parts[0]
            line, column = _position(node)
            if name in _CONTEXT_HELPERS:
                if len(node.params) != 1:
                    raise syn.syntax_error(f"#{name} takes exactly one argument", line, column)
                # {{^each x}}…{{/each}} has no program, only an inverse.
                if node.program is not None:
                    inner = locals_.union(node.program.block_params or ())
                    self.program(node.program, depth + 1, inner)
            elif name in _CONDITION_HELPERS or name in _EQUALS_HELPERS:
                arity = 2 if name in _EQUALS_HELPERS else 1
                if len(node.params) != arity:
                    raise syn.syntax_error(f"#{name} takes exactly {'two arguments' if arity == 2 else 'one argument'}", line, column)
                if node.program is not None and node.program.block_params:
                    raise _unsupported(f"block parameters (as |…|) on #{name}", line, column)
                self.program(node.program, depth, locals_)
            else:
                raise _unsupported(f'the block helper "#{name}"', line, column)
            self.program(node.inverse, depth, locals_)
            return
        line, column = _position(node)
        if isinstance(node, syn.PartialStatement):
            ref = partial_ref(node)
            if ref not in self.partials:
                self.partials.append(ref)
            return
        if node.type == "PartialBlockStatement":
            raise _unsupported("a partial block ({{#> …}})", line, column)
        if node.type in ("Decorator", "DecoratorBlock"):
            raise _unsupported("a decorator", line, column)
        raise _unsupported(f'"{node.type}"', line, column)  # pragma: no cover


def _check_json(node: Any, kind: Optional[str], line: int, column: int) -> None:
    """``{{json value}}`` or ``{{json value indent=N}}``, N a whole number 0 to 10, and only as a tag of its own."""
    pairs = node.hash.pairs if node.hash else []
    indent_ok = not pairs
    if len(pairs) == 1 and pairs[0][0] == "indent":
        value = pairs[0][1]
        n = getattr(value, "value", None)
        indent_ok = (
            getattr(value, "type", None) == "NumberLiteral"
            and isinstance(n, (int, float))
            and float(n).is_integer()
            and 0 <= n <= _JSON_MAX_INDENT
        )
    if kind != "MustacheStatement" or len(node.params) != 1 or not indent_ok:
        raise _unsupported(f"json other than as {{{{json value}}}} or {{{{json value indent=N}}}} (N from 0 to {_JSON_MAX_INDENT})", line, column)


def partial_ref(node: syn.PartialStatement) -> str:
    """The reference a partial tag names: ``{{> safety}}`` or ``{{> "safety@3"}}``; anything else is refused as the registry does."""
    line, column = _position(node)
    name = node.name
    ref: Optional[str] = None
    if isinstance(name, syn.PathExpression) and not name.data and not name.depth:
        ref = name.original
    elif isinstance(name, syn.Literal) and name.type == "StringLiteral":
        ref = name.value
    if not ref:
        raise _unsupported('a partial name other than {{> name}} or {{> "name@version"}}', line, column)
    if node.params or (node.hash and node.hash.pairs):
        raise _unsupported(f'arguments to the partial "{ref}"', line, column)
    return ref


# ---------------------------------------------------------------------------
# Running: the compiled template is a tree of closures over a scope


class _Partials:
    """The partials of one render, by reference, and how deep they are nested now."""

    __slots__ = ("templates", "root", "depth", "chain")

    def __init__(self, templates: "Mapping[str, CompiledTemplate]", root: Any) -> None:
        self.templates = templates
        self.root = root
        self.depth = 0
        self.chain: List[str] = []


class _Scope:
    """What a block body sees: its context, the outer contexts (for ``../``),
    the @-data frame and the block parameters, innermost first, and the
    render's budget."""

    __slots__ = ("ctx", "depths", "data", "bparams", "budget", "partials")

    def __init__(self, ctx: Any, depths: Optional[tuple], data: Optional[dict], bparams: Optional[tuple], budget: Budget, partials: Optional[_Partials] = None) -> None:
        self.ctx = ctx
        self.depths = depths
        self.data = data
        self.bparams = bparams
        self.budget = budget
        self.partials = partials


Value = Callable[[_Scope], Any]
Render = Callable[[_Scope], str]


def _output(value: Any, name: str) -> str:
    """What ``{{x}}`` prints: strings, numbers and booleans; anything else is an error."""
    if type(value) is str:
        return value
    if value is MISSING:
        raise TemplateError("missing_variable", f'missing variable "{name}"', {"variable": name})
    if value is None:
        raise TemplateError("missing_variable", f'variable "{name}" is null', {"variable": name})
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (int, float)):
        return number_to_string(value)
    raise TemplateError(
        "invalid_variable",
        f'variable "{name}" is {describe(value)}; output a string, number or boolean, or use a nested path or {{{{#each}}}}',
        {"variable": name},
    )


def _require(value: Any, name: str) -> Any:
    if value is None or value is MISSING:
        raise TemplateError("missing_variable", f'missing variable "{name}"', {"variable": name})
    return value


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_string(text: str) -> str:
    """``JSON.stringify`` of a string: as ``json.dumps`` without ASCII escaping, lone surrogates as ``\\udxxx``."""
    out = json.dumps(text, ensure_ascii=False)
    if _SURROGATE.search(out):
        # Pairs written as two code points are one character in JavaScript: join them first.
        out = out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        out = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)
    return out


def _json(value: Any, name: str, indent: int, budget: Budget) -> str:
    """``{{json x}}``: ``JSON.stringify(x, null, indent)`` as Dotprompt prints it, but strict (absent is
    ``missing_variable``), nested at most JSON_MAX_NESTING deep, and its output counted as it is built."""
    if value is MISSING:
        raise TemplateError("missing_variable", f'missing variable "{name}"', {"variable": name})
    gap = " " * indent
    parts: List[str] = []
    size = 0
    max_output = budget.max_output

    def put(text: str) -> None:
        nonlocal size
        size += len(text)
        if size > max_output:
            budget.output(size)
        parts.append(text)

    def unusable(what: str) -> TemplateError:
        return TemplateError("invalid_variable", f'variable "{name}" {what}; {{{{json}}}} prints only what JSON holds', {"variable": name})

    def write(v: Any, depth: int) -> None:
        if v is None:
            put("null")
        elif v is True:
            put("true")
        elif v is False:
            put("false")
        elif isinstance(v, str):
            put(_json_string(v))
        elif isinstance(v, (int, float)):
            text = number_to_string(v)
            put("null" if text in ("NaN", "Infinity", "-Infinity") else text)
        elif isinstance(v, (list, tuple, Mapping)):
            if depth >= JSON_MAX_NESTING:
                raise unusable(f"nests deeper than {JSON_MAX_NESTING} levels")
            inner = "\n" + gap * (depth + 1) if gap else ""
            outer = "\n" + gap * depth if gap else ""
            if isinstance(v, Mapping):
                first = True
                put("{")
                for key, item in own_keys(v):
                    if item is MISSING:
                        continue
                    put(("" if first else ",") + inner + _json_string(key) + (": " if gap else ":"))
                    first = False
                    write(item, depth + 1)
                put("}" if first else outer + "}")
            elif not v:
                put("[]")
            else:
                put("[")
                for i, item in enumerate(v):
                    put("," + inner if i else inner)
                    if item is MISSING:
                        put("null")
                    else:
                        write(item, depth + 1)
                put(outer + "]")
        else:
            raise unusable(f"holds a {type(v).__name__}")

    write(value, 0)
    return "".join(parts)


def _strict_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``a === b`` for the values a template sees: primitives by value, lists and objects by identity."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is b


class _ServerFailure(TemplateError):
    """Where the server's Handlebars fails with an internal error (a 500), we raise
    ``template_unsupported``. Like the server, compiling tries a render with no
    variables and refuses the template if that reaches such a construct."""


def _server_failure(what: str, line: int, column: int) -> _ServerFailure:
    error = _unsupported(what, line, column)
    return _ServerFailure(error.code, error.message, error.details)


def _fails_at(what: str, line: int, column: int) -> Callable[..., Any]:
    """A construct the server accepts but fails on (500) when it reaches it."""

    def fail(scope: _Scope) -> Any:
        raise _server_failure(what, line, column)

    return fail


class _Compiler:
    def __init__(self, root: syn.Program) -> None:
        self.use_depths = False
        self.use_bparams = False
        self.use_data = False
        self.use_loops = False
        _scan(root, self)

    # -- scopes

    def child(self, scope: _Scope, ctx: Any, data: Optional[dict], supplied: Optional[tuple]) -> _Scope:
        depths = scope.depths
        if depths is not None and not loose_equal(ctx, depths[0]) and not (ctx is NULL_CONTEXT and depths[0] is None):
            depths = (ctx,) + depths
        bparams = (supplied,) + scope.bparams if scope.bparams is not None else None
        return _Scope(ctx, depths, data, bparams, scope.budget, scope.partials)

    # -- programs and statements

    def program(self, program: Optional[syn.Program], stack: List[Optional[List[str]]]) -> Optional[Render]:
        if program is None:
            return None
        inner = [program.block_params] + stack
        parts: List[Any] = []
        for statement in program.body:
            compiled = self.statement(statement, inner)
            if compiled is None:
                continue
            if isinstance(compiled, str) and parts and isinstance(parts[-1], str):
                parts[-1] += compiled
            else:
                parts.append(compiled)
        if not parts:
            return lambda scope: ""
        if len(parts) == 1:
            only = parts[0]
            if isinstance(only, str):
                return lambda scope: only
            return only  # type: ignore[no-any-return]
        fns = tuple((lambda scope, c=p: c) if isinstance(p, str) else p for p in parts)
        if sum(not isinstance(p, str) for p in parts) <= _FEW_PARTS:
            return lambda scope: "".join([f(scope) for f in fns])

        def run(scope: _Scope) -> str:
            pieces = [f(scope) for f in fns]
            # Counted before joining: many tags printing one big value must not build a huge string first.
            size = sum(map(len, pieces))
            budget = scope.budget
            if size > budget.max_output:
                budget.output(size)
            return "".join(pieces)

        return run

    def statement(self, node: syn.Node, stack: List[Optional[List[str]]]) -> Any:
        if isinstance(node, syn.ContentStatement):
            return node.value or None
        if isinstance(node, syn.CommentStatement):
            return None
        if isinstance(node, syn.MustacheStatement):
            return self.mustache(node, stack)
        if isinstance(node, syn.PartialStatement):
            return self.partial(node)
        assert isinstance(node, syn.BlockStatement)
        return self.block(node, stack)

    def mustache(self, node: syn.MustacheStatement, stack: List[Optional[List[str]]]) -> Render:
        has_args = bool(node.params) or bool(node.hash and node.hash.pairs)
        helper = node.path.original if isinstance(node.path, syn.PathExpression) else None
        if has_args and helper == "section":
            return lambda scope: ""
        if has_args and helper == "json":
            subject = self.expression(node.params[0], stack)
            label = _expression_text(node.params[0])
            pairs = node.hash.pairs if node.hash else []
            indent = int(pairs[0][1].value) if pairs else 0
            return lambda scope: _json(subject(scope), label, indent, scope.budget)
        if has_args:
            subject_node: Any = syn.SubExpression(node.path, node.params, node.hash, node.line, node.column)
            value = self.subexpression(subject_node, stack)
        else:
            subject_node = node.path
            value = self.expression(subject_node, stack)
        name = _expression_text(subject_node)
        fast = self._simple_name(subject_node, stack)
        if fast is not None:
            key = fast

            def out_simple(scope: _Scope) -> str:
                ctx = scope.ctx
                if type(ctx) is dict:
                    v = ctx.get(key, MISSING)
                    if v is MISSING and ctx:
                        v = get_property(ctx, key)
                elif ctx is None or ctx is MISSING:
                    v = ctx
                else:
                    v = get_property(ctx, key)
                if type(v) is str:
                    return v
                return _output(v, name)

            return out_simple

        def out(scope: _Scope) -> str:
            v = value(scope)
            if type(v) is str:
                return v
            return _output(v, name)

        return out

    def partial(self, node: syn.PartialStatement) -> Render:
        """``{{> ref}}``: the partial's template run in the current context, with this render's data and budget."""
        ref = partial_ref(node)
        indent = node.indent

        def run(scope: _Scope) -> str:
            given = scope.partials
            template = given.templates.get(ref) if given is not None else None
            if template is None or given is None:
                raise TemplateError("missing_partial", f'the partial "{ref}" was not given', {"partial": ref})
            if given.depth >= MAX_PARTIAL_DEPTH:
                chain = " -> ".join(given.chain + [ref])
                raise TemplateError("reference_too_deep", f"partials nest more than {MAX_PARTIAL_DEPTH} deep: {chain}", {"max": MAX_PARTIAL_DEPTH})
            given.depth += 1
            given.chain.append(ref)
            try:
                text = template._invoke(scope, given)
            finally:
                given.depth -= 1
                given.chain.pop()
            if indent:
                # As Handlebars: each line of the output, but a last empty one, gets the tag's indentation.
                lines = text.split("\n")
                text = "\n".join(indent + line if line or i + 1 < len(lines) else line for i, line in enumerate(lines))
            return text

        return run

    def _simple_name(self, node: Any, stack: List[Optional[List[str]]]) -> Optional[str]:
        """The key of a one-segment path on the current context (the common ``{{name}}``)."""
        if not isinstance(node, syn.PathExpression) or node.data or node.depth or len(node.parts) != 1:
            return None
        if not _SCOPED.search(node.original) and _block_param_index(stack, node.parts[0]) is not None:
            return None
        return node.parts[0]

    def block(self, node: syn.BlockStatement, stack: List[Optional[List[str]]]) -> Render:
        path = node.path
        name = path.parts[0]
        line, column = _position(node)
        fn = self.program(node.program, stack)
        inverse = self.program(node.inverse, stack)
        if _is_simple_id(path) and _block_param_index(stack, name) is not None:
            return _fails_at(f'"#{name}", which is also the name of a block parameter,', line, column)
        subject = self.expression(node.params[0], stack)
        hash_pairs = self._hash(node, stack)
        hash_values = tuple(value for _, value in hash_pairs)
        # Handlebars evaluates every hash argument; the first of a repeated key counts.
        zero_index = next((i for i, (key, _) in enumerate(hash_pairs) if key == "includeZero"), -1)
        child = self.child
        uses_data = self.use_data

        def same(scope: _Scope, program: Optional[Render]) -> str:
            if program is None:
                return ""
            ctx = scope.ctx
            this = NULL_CONTEXT if ctx is None or ctx is MISSING else ctx
            return program(child(scope, this, scope.data, None))

        if name in _EQUALS_HELPERS:
            other = self.expression(node.params[1], stack)
            wanted = name == "ifEquals"

            def equals(scope: _Scope) -> str:
                return same(scope, fn if _strict_equal(subject(scope), other(scope)) == wanted else inverse)

            return equals

        if name in _CONDITION_HELPERS:
            positive, negative = (fn, inverse) if name == "if" else (inverse, fn)

            def conditional(scope: _Scope) -> str:
                v = subject(scope)
                hashed = [h(scope) for h in hash_values]
                zero_ok = zero_index >= 0 and truthy(hashed[zero_index])
                if (not zero_ok and not truthy(v)) or is_empty(v):
                    return same(scope, negative)
                return same(scope, positive)

            return conditional

        text = _expression_text(node.params[0])
        if name == "with":

            def with_(scope: _Scope) -> str:
                v = _require(subject(scope), text)
                for h in hash_values:
                    h(scope)
                if is_empty(v):
                    return same(scope, inverse)
                if fn is None:
                    return ""
                return fn(child(scope, v, scope.data, (v,)))

            return with_

        def each(scope: _Scope) -> str:
            v = _require(subject(scope), text)
            for h in hash_values:
                h(scope)
            if _is_list(v):
                items: List[Tuple[Any, Any]] = list(enumerate(v))
            elif isinstance(v, Mapping):
                items = list(own_keys(v))
            else:  # strings, numbers, booleans and other objects: nothing to loop over
                items = []
            if not items:
                return same(scope, inverse)
            if fn is None:  # pragma: no cover - the analyzer refuses {{^each}} without {{else}}
                return ""
            frame: Optional[dict] = None
            if uses_data and scope.data is not None:
                frame = dict(scope.data)
                frame["_parent"] = scope.data
            data = frame if frame is not None else scope.data
            last = len(items) - 1
            out: List[str] = []
            budget = scope.budget
            max_output = budget.max_output
            size = 0
            for i, (field, item) in enumerate(items):
                # Counted before each body, nested loops' too (Budget.over also looks at the clock).
                n = budget.iterations = budget.iterations + 1
                if n > budget.checkpoint:
                    budget.over(n)
                if frame is not None:
                    frame["key"] = field
                    frame["index"] = i
                    frame["first"] = i == 0
                    frame["last"] = i == last
                body = fn(child(scope, item, data, (item, field)))
                # What this loop made so far is part of the output: stop as soon as it alone is too much.
                size += len(body)
                if size > max_output:
                    budget.output(size)
                out.append(body)
            return "".join(out)

        return each

    def _block_param(self, node: syn.PathExpression, found: Tuple[int, int]) -> Value:
        level, index = found
        name = node.parts[0]
        rest = tuple(node.parts[1:])
        line, column = _position(node)

        def block_param(scope: _Scope) -> Any:
            chain = scope.bparams
            entry = chain[level] if chain is not None and level < len(chain) else None
            if entry is None:
                # Handlebars fails here: the block declaring it (#if, #unless) gives no values.
                raise _server_failure(f'the block parameter "{name}" of a block that gives none', line, column)
            v = entry[index] if index < len(entry) else MISSING
            for part in rest:
                if v is None or v is MISSING:
                    return v
                v = get_property(v, part)
            return v

        return block_param

    def _hash(self, node: Any, stack: List[Optional[List[str]]]) -> List[Tuple[str, Value]]:
        """Compiles a helper's hash arguments, in order (compiling is where unknown helpers are found)."""
        return [(key, self.expression(value, stack)) for key, value in node.hash.pairs] if node.hash else []

    # -- expressions

    def expression(self, node: Any, stack: List[Optional[List[str]]]) -> Value:
        if isinstance(node, syn.PathExpression):
            return self.path(node, stack)
        if isinstance(node, syn.SubExpression):
            return self.subexpression(node, stack)
        constant = node.value
        return lambda scope: constant

    def subexpression(self, node: syn.SubExpression, stack: List[Optional[List[str]]]) -> Value:
        path = node.path
        line, column = _position(node)
        if not isinstance(path, syn.PathExpression):
            # Handlebars turns a literal helper name into a path: ("x") reads x.
            text = to_string(path.original)
            path = syn.PathExpression(False, 0, [text], text, path.line, path.column)
        simple = _is_simple_id(path)
        if simple and _block_param_index(stack, path.parts[0]) is not None:
            return self.path(path, stack)  # a block parameter shadows the helper
        # Anything else in (...) is a helper call, and Handlebars only knows its own helpers.
        name = path.parts[0] if path.parts else "undefined"
        if name not in _KNOWN_HELPERS:
            raise syn.syntax_error(f"You specified knownHelpersOnly, but used the unknown helper {name}", line, column)
        params = [self.expression(p, stack) for p in node.params]
        if name != "lookup":
            self._hash(node, stack)
            # The server has no log/helperMissing helpers, and if/unless/each/with need a block.
            return _fails_at(f'"{name}" used inside an expression', line, column)
        hash_values = tuple(value for _, value in self._hash(node, stack))
        if len(params) != 2:
            fail = _fails_at("lookup without exactly two arguments", line, column)

            def bad_lookup(scope: _Scope) -> Any:
                values = [p(scope) for p in params]
                for h in hash_values:
                    h(scope)
                if values and not truthy(values[0]):
                    return values[0]
                return fail(scope)

            return bad_lookup
        get_obj, get_field = params

        def lookup(scope: _Scope) -> Any:
            obj = get_obj(scope)
            field = get_field(scope)
            for h in hash_values:
                h(scope)
            if not truthy(obj):
                return obj
            return get_property(obj, field)

        return lookup

    def path(self, node: syn.PathExpression, stack: List[Optional[List[str]]]) -> Value:
        parts = tuple(node.parts)
        # As in Handlebars, a block parameter wins over everything else, even over @data.
        if not node.depth and not _SCOPED.search(node.original) and parts:
            found = _block_param_index(stack, parts[0])
            if found is not None:
                return self._block_param(node, found)
        if node.data:
            depth = node.depth

            def data_path(scope: _Scope) -> Any:
                v: Any = scope.data
                d = depth
                while truthy(v) and d:
                    v = v.get("_parent", MISSING) if isinstance(v, dict) else MISSING
                    d -= 1
                for part in parts:
                    if not truthy(v):
                        return v
                    v = get_property(v, part)
                return v

            return data_path
        depth = node.depth
        if depth:

            def outer(scope: _Scope) -> Any:
                depths = scope.depths
                v = depths[depth] if depths is not None and depth < len(depths) else MISSING
                for part in parts:
                    if v is None or v is MISSING:
                        return v
                    v = get_property(v, part)
                return v

            return outer
        if not parts:
            return lambda scope: scope.ctx

        def context_path(scope: _Scope) -> Any:
            v = scope.ctx
            for part in parts:
                if v is None or v is MISSING:
                    return v
                v = get_property(v, part)
            return v

        return context_path


def _is_simple_id(path: Any) -> bool:
    """Handlebars' ``simpleId``: one segment, no ``../``, not ``this.``/``./`` (``@x`` counts)."""
    return isinstance(path, syn.PathExpression) and len(path.parts) == 1 and not path.depth and not _SCOPED.search(path.original)


def _block_param_index(stack: Sequence[Optional[List[str]]], name: str) -> Optional[Tuple[int, int]]:
    for level, params in enumerate(stack):
        if params and name in params:
            return level, params.index(name)
    return None


def _scan(program: Optional[syn.Program], compiler: _Compiler, stack: Optional[List[Optional[List[str]]]] = None) -> None:
    """Finds which runtime state the template needs (``../``, block parameters, @-data)."""
    if program is None:
        return
    inner = [program.block_params] + (stack or [])

    def expr(node: Any) -> None:
        if isinstance(node, syn.PathExpression):
            if not node.depth and node.parts and not _SCOPED.search(node.original) and _block_param_index(inner, node.parts[0]) is not None:
                compiler.use_bparams = True
            elif node.data:
                compiler.use_data = True
            elif node.depth:
                compiler.use_depths = True
        elif isinstance(node, syn.SubExpression):
            expr(node.path)
            for p in node.params:
                expr(p)
            if node.hash:
                for _, v in node.hash.pairs:
                    expr(v)

    for statement in program.body:
        if isinstance(statement, syn.PartialStatement):
            # A partial sees the @-data where it is included (@index, @key, @root): keep it.
            compiler.use_data = True
        elif isinstance(statement, syn.MustacheStatement):
            expr(syn.SubExpression(statement.path, statement.params, statement.hash, 0, 0))
        elif isinstance(statement, syn.BlockStatement):
            expr(statement.path)
            for p in statement.params:
                expr(p)
            if statement.hash:
                for _, v in statement.hash.pairs:
                    expr(v)
            if statement.path.parts and statement.path.parts[0] == "each":
                compiler.use_loops = True
            _scan(statement.program, compiler, inner)
            _scan(statement.inverse, compiler, inner)


# ---------------------------------------------------------------------------
# The public API


def _is_mapping(value: object) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


class CompiledTemplate:
    """A parsed and checked template; ``render`` is cheap and can be called many times."""

    __slots__ = ("source", "variables", "partials", "compile_limits", "_run", "_depths", "_data", "_bparams", "_loops")

    def __init__(self, source: str, limits: Optional[Limits] = None) -> None:
        resolved = resolve_limits(limits)
        check_source(source, resolved)  # before the parser, which recursion and size make costly
        try:
            program = syn.parse(source)
            analyzer = _Analyzer()
            analyzer.program(program, 0, frozenset())
            compiler = _Compiler(program)
        except RecursionError:
            # Blocks are within max_depth here, so it is (sub)expressions nested hundreds deep
            # inside one tag, which the pre-scan does not count: refuse them as too deep all the same.
            raise TemplateError(
                "template_too_large",
                f"the template nests expressions in parentheses too deeply to compile; blocks may nest {resolved.max_depth} deep",
                {"limit": "depth", "max": resolved.max_depth},
            ) from None
        self.source = source
        #: (max_template_chars, max_tags, max_depth) this template was checked against.
        self.compile_limits = resolved._compile_key
        #: The root variables the template reads, in order of first use.
        self.variables: Tuple[str, ...] = tuple(analyzer.variables)
        #: The partial references it makes, as written, in order of first use.
        self.partials: Tuple[str, ...] = tuple(analyzer.partials)
        self._depths = compiler.use_depths
        self._data = compiler.use_data
        self._bparams = compiler.use_bparams
        self._loops = compiler.use_loops
        self._run = compiler.program(program, [])
        try:  # as the server does: a trial render finds what its Handlebars fails on
            self.render({})
        except _ServerFailure as failure:
            raise TemplateError(failure.code, failure.message, failure.details) from None
        except TemplateError:
            pass

    def render(self, variables: Mapping[str, Any], limits: Optional[Limits] = None, partials: "Optional[Mapping[str, CompiledTemplate]]" = None) -> str:
        """Renders strictly; raises TemplateError naming a missing or unusable variable,
        or ``render_too_large`` when the render limits (default: DEFAULT_LIMITS) run out.
        ``partials`` holds a compiled template for each reference the template (and
        its partials) make; they render within the same budget."""
        if not _is_mapping(variables):
            raise TemplateError("invalid_variable", "variables must be an object of names to values")
        resolved = DEFAULT_LIMITS if limits is None else limits if type(limits) is TemplateLimits else resolve_limits(limits)
        loops = self._loops or (partials is not None and any(t._loops for t in partials.values()))
        budget = Budget(resolved) if loops else resolved._shared_budget
        scope = _Scope(
            variables,
            (variables,) if self._depths else None,
            {"root": variables} if self._data else None,
            () if self._bparams else None,
            budget,
            _Partials(partials or {}, variables) if self.partials else None,
        )
        text: str = self._run(scope)  # type: ignore[misc]
        if len(text) > budget.max_output:
            budget.output(len(text))
        return text

    def _invoke(self, caller: _Scope, given: _Partials) -> str:
        """Runs as a partial: in the caller's context, with its @-data (or a new one) and budget."""
        ctx = caller.ctx
        data = caller.data if caller.data is not None else ({"root": given.root} if self._data else None)
        scope = _Scope(ctx, (ctx,) if self._depths else None, data, () if self._bparams else None, caller.budget, given)
        return self._run(scope)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"CompiledTemplate(variables={list(self.variables)!r})"


def compile_template(source: str, limits: Optional[Limits] = None) -> CompiledTemplate:
    """Parses and checks a template (cached by its text and compile limits).

    Raises TemplateError (``template_syntax_error`` or ``template_unsupported``,
    with ``line`` and ``column``) when the registry would refuse it, and
    ``template_too_large`` (with ``limit`` and ``max``) when it is over the
    compile limits of ``limits`` (default: DEFAULT_LIMITS).
    """
    if not _is_str(source):
        raise TypeError("a template is a str")
    resolved = DEFAULT_LIMITS if limits is None else resolve_limits(limits)
    return _compile(source, resolved.compile_key)


@functools.lru_cache(maxsize=512)
def _compile(source: str, key: Tuple[int, int, int]) -> CompiledTemplate:
    if key == DEFAULT_LIMITS._compile_key:
        return CompiledTemplate(source, DEFAULT_LIMITS)
    max_template_chars, max_tags, max_depth = key
    return CompiledTemplate(source, TemplateLimits(max_template_chars=max_template_chars, max_tags=max_tags, max_depth=max_depth))


def extract_variables(source: str, limits: Optional[Limits] = None) -> List[str]:
    """The root variables a template reads, in order of first use (as the server stores them)."""
    return list(compile_template(source, limits).variables)


def render(source: str, variables: Mapping[str, Any], limits: Optional[Limits] = None) -> str:
    """Compiles (cached) and renders a template in one call, within ``limits``."""
    return compile_template(source, limits).render(variables, limits)

