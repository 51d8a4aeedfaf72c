"""Parsing templates exactly as the registry's Handlebars 4.7 does.

Three steps, as in Handlebars: a lexer with the same token rules (and the
same line and column bookkeeping, so errors point at the same place), a
parser for the same grammar building the same tree, and the whitespace pass
that applies ``~`` and strips standalone block, ``else`` and comment lines.
Which constructs the registry accepts is decided later, in ``render``.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

from ._js import MISSING, to_string
from .errors import TemplateError

# JavaScript's \s, which differs from Python's (no \x1c-\x1f or \x85; has \ufeff).
WS = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_S = f"[{WS}]"
_NS = f"[^{WS}]"

# Characters that end an identifier: Handlebars' ID rule excludes these.
_ID_CHARS = r"[^" + WS + r"!\"#%-,\.\/;->@\[-\^`\{-~]+"
_ID_END = r"(?=[=~}" + WS + r"\/.)|])"
_LIT_END = r"(?=[~}" + WS + r")])"

# Token kinds.
CONTENT = "CONTENT"
COMMENT = "COMMENT"
OPEN = "OPEN"
OPEN_UNESCAPED = "OPEN_UNESCAPED"
OPEN_BLOCK = "OPEN_BLOCK"
OPEN_ENDBLOCK = "OPEN_ENDBLOCK"
OPEN_INVERSE = "OPEN_INVERSE"
OPEN_INVERSE_CHAIN = "OPEN_INVERSE_CHAIN"
INVERSE = "INVERSE"
OPEN_PARTIAL = "OPEN_PARTIAL"
OPEN_PARTIAL_BLOCK = "OPEN_PARTIAL_BLOCK"
OPEN_RAW_BLOCK = "OPEN_RAW_BLOCK"
CLOSE_RAW_BLOCK = "CLOSE_RAW_BLOCK"
END_RAW_BLOCK = "END_RAW_BLOCK"
CLOSE = "CLOSE"
CLOSE_UNESCAPED = "CLOSE_UNESCAPED"
OPEN_SEXPR = "OPEN_SEXPR"
CLOSE_SEXPR = "CLOSE_SEXPR"
EQUALS = "EQUALS"
ID = "ID"
SEP = "SEP"
STRING = "STRING"
NUMBER = "NUMBER"
BOOLEAN = "BOOLEAN"
UNDEFINED = "UNDEFINED"
NULL = "NULL"
DATA = "DATA"
OPEN_BLOCK_PARAMS = "OPEN_BLOCK_PARAMS"
CLOSE_BLOCK_PARAMS = "CLOSE_BLOCK_PARAMS"
INVALID = "INVALID"
EOF = "EOF"
# Jison's own end of input (symbol 1), answered where no rule matches an empty
# rest (in a raw block): the server then says "cannot parse the template".
END = "END"
LEX_ERROR = "LEX_ERROR"

# Inside {{ ... }}: (regex, token or None, action), tried in order; the first match wins.
_MU_RULES: List[Tuple["re.Pattern[str]", Optional[str], str]] = [
    (re.compile(r"\("), OPEN_SEXPR, ""),
    (re.compile(r"\)"), CLOSE_SEXPR, ""),
    (re.compile(r"\{\{\{\{"), OPEN_RAW_BLOCK, ""),
    (re.compile(r"\}\}\}\}"), CLOSE_RAW_BLOCK, "raw"),
    (re.compile(r"\{\{(~)?>"), OPEN_PARTIAL, ""),
    (re.compile(r"\{\{(~)?#>"), OPEN_PARTIAL_BLOCK, ""),
    (re.compile(r"\{\{(~)?#\*?"), OPEN_BLOCK, ""),
    (re.compile(r"\{\{(~)?\/"), OPEN_ENDBLOCK, ""),
    (re.compile(r"\{\{(~)?\^" + _S + r"*(~)?\}\}"), INVERSE, "pop"),
    (re.compile(r"\{\{(~)?" + _S + r"*else" + _S + r"*(~)?\}\}"), INVERSE, "pop"),
    (re.compile(r"\{\{(~)?\^"), OPEN_INVERSE, ""),
    (re.compile(r"\{\{(~)?" + _S + r"*else(?![A-Za-z0-9_])"), OPEN_INVERSE_CHAIN, ""),
    (re.compile(r"\{\{(~)?\{"), OPEN_UNESCAPED, ""),
    (re.compile(r"\{\{(~)?&"), OPEN, ""),
    (re.compile(r"\{\{(~)?!--"), None, "long_comment"),
    (re.compile(r"\{\{(~)?![\s\S]*?\}\}"), COMMENT, "pop"),
    (re.compile(r"\{\{(~)?\*?"), OPEN, ""),
    (re.compile(r"="), EQUALS, ""),
    (re.compile(r"\.\."), ID, ""),
    (re.compile(r"\.(?=[=~}" + WS + r"\/.)|])"), ID, ""),
    (re.compile(r"[\/.]"), SEP, ""),
    (re.compile(_S + r"+"), None, ""),
    (re.compile(r"\}(~)?\}\}"), CLOSE_UNESCAPED, "pop"),
    (re.compile(r"(~)?\}\}"), CLOSE, "pop"),
    (re.compile(r'"(\\["]|[^"])*"'), STRING, "dq"),
    (re.compile(r"'(\\[']|[^'])*'"), STRING, "sq"),
    (re.compile(r"@"), DATA, ""),
    (re.compile(r"true" + _LIT_END), BOOLEAN, ""),
    (re.compile(r"false" + _LIT_END), BOOLEAN, ""),
    (re.compile(r"undefined" + _LIT_END), UNDEFINED, ""),
    (re.compile(r"null" + _LIT_END), NULL, ""),
    (re.compile(r"-?[0-9]+(?:\.[0-9]+)?" + _LIT_END), NUMBER, ""),
    (re.compile(r"as" + _S + r"+\|"), OPEN_BLOCK_PARAMS, ""),
    (re.compile(r"\|"), CLOSE_BLOCK_PARAMS, ""),
    (re.compile(_ID_CHARS + _ID_END), ID, ""),
    (re.compile(r"\[(\\\]|[^\]])*\]"), ID, "bracket"),
    (re.compile(r"[^\n\r\u2028\u2029]"), INVALID, ""),
]

_EMU = re.compile(r"[^\x00]{2,}?(?=(\{\{|\\\{\{|\\\\\{\{|\Z))")
_LONG_COMMENT = re.compile(r"[\s\S]*?--(~)?\}\}")
_RAW_OPEN = re.compile(r"\{\{\{\{(?=[^/])")
_RAW_END = re.compile(r"\{\{\{\{\/" + r"[^" + WS + r"!\"#%-,\.\/;->@\[-\^`\{-~]+" + r"(?=[=}" + WS + r"\/.])\}\}\}\}")
_RAW_TEXT = re.compile(r"[^\x00]+?(?=(\{\{\{\{))")
_NEWLINES = re.compile(r"(?:\r\n?|\n)[^\n\r\u2028\u2029]*")
_BRACKET_ESCAPE = re.compile(r"\\([\\\]])")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: JavaScript's columns."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


class Token:
    __slots__ = ("kind", "text", "line", "column")

    def __init__(self, kind: str, text: str, line: int, column: int) -> None:
        self.kind = kind
        self.text = text
        self.line = line
        self.column = column  # 0-based, in UTF-16 code units, as Jison counts

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, {self.line}:{self.column})"


def tokenize(source: str) -> List[Token]:
    """The tokens Handlebars' lexer produces, ending with EOF or LEX_ERROR."""
    tokens: List[Token] = []
    states = ["INITIAL"]
    pos = 0
    n = len(source)
    lineno = 0  # newlines seen (Jison's yylineno)
    last_line, last_col = 1, 0  # where the previous match ended
    match_line, match_col = 1, 0  # where the previous match started (Jison's yylloc.first_*)

    def advance(text: str) -> Tuple[int, int]:
        """Jison's yylloc update for a match; returns where it starts."""
        nonlocal lineno, last_line, last_col, match_line, match_col
        first = (last_line, last_col)
        match_line, match_col = first
        lines = _NEWLINES.findall(text)
        if lines:
            lineno += len(lines)
            tail = lines[-1]
            lead = 2 if tail.startswith("\r\n") else 1
            last_col = utf16_len(tail) - lead
        else:
            last_col += utf16_len(text)
        last_line = lineno + 1
        return first

    while True:
        state = states[-1]
        if state == "INITIAL":
            if pos >= n:
                line, col = advance("")
                tokens.append(Token(EOF, "", line, col))
                return tokens
            nul = source.find("\x00", pos)
            brace = source.find("{{", pos)
            if brace >= 0 and (nul < 0 or brace < nul):
                text = source[pos:brace]
                line, col = advance(text)
                pos = brace
                if text.endswith("\\\\"):
                    text = text[:-1]
                    states.append("mu")
                elif text.endswith("\\"):
                    text = text[:-1]
                    states.append("emu")
                else:
                    states.append("mu")
                if text:
                    tokens.append(Token(CONTENT, text, line, col))
                continue
            end = nul if nul >= 0 else n
            if end > pos:
                text = source[pos:end]
                line, col = advance(text)
                tokens.append(Token(CONTENT, text, line, col))
                pos = end
                continue
            # A NUL character where content should be: Jison's "Unrecognized text".
            tokens.append(Token(LEX_ERROR, "", match_line, match_col))
            return tokens
        if state == "emu":
            m = _EMU.match(source, pos)
            if not m:  # pragma: no cover - "{{" always follows
                tokens.append(Token(LEX_ERROR, "", match_line, match_col))
                return tokens
            text = m.group(0)
            line, col = advance(text)
            pos = m.end()
            states.pop()
            tokens.append(Token(CONTENT, text, line, col))
            continue
        if state == "com":
            m = _LONG_COMMENT.match(source, pos)
            if not m:
                kind = END if pos >= n else LEX_ERROR
                tokens.append(Token(kind, "", match_line, match_col))
                return tokens
            text = m.group(0)
            line, col = advance(text)
            pos = m.end()
            states.pop()
            tokens.append(Token(COMMENT, text, line, col))
            continue
        if state == "raw":
            if pos >= n:  # Jison answers its end without a match, so the position stays put
                tokens.append(Token(END, "", match_line, match_col))
                return tokens
            m = _RAW_OPEN.match(source, pos)
            if m:
                text = m.group(0)
                line, col = advance(text)
                pos = m.end()
                states.append("raw")
                tokens.append(Token(CONTENT, text, line, col))
                continue
            m = _RAW_END.match(source, pos)
            if m:
                text = m.group(0)
                line, col = advance(text)
                pos = m.end()
                states.pop()
                if states[-1] == "raw":
                    tokens.append(Token(CONTENT, text, line, col))
                else:
                    tokens.append(Token(END_RAW_BLOCK, text[5:-4], line, col))
                continue
            m = _RAW_TEXT.match(source, pos)
            if m:
                text = m.group(0)
                line, col = advance(text)
                pos = m.end()
                tokens.append(Token(CONTENT, text, line, col))
                continue
            tokens.append(Token(LEX_ERROR, "", match_line, match_col))
            return tokens
        # state == "mu"
        if pos >= n:
            line, col = advance("")
            tokens.append(Token(EOF, "", line, col))
            return tokens
        for regex, kind, action in _MU_RULES:
            m = regex.match(source, pos)
            if m is None:
                continue
            text = m.group(0)
            if action == "long_comment":
                # Jison un-reads the match and lexes the whole comment in the "com" state.
                advance("")
                states.pop()
                states.append("com")
                break
            line, col = advance(text)
            pos = m.end()
            if action == "pop":
                states.pop()
            elif action == "raw":
                states.pop()
                states.append("raw")
            elif action == "dq":
                text = text[1:-1].replace('\\"', '"')
            elif action == "sq":
                text = text[1:-1].replace("\\'", "'")
            elif action == "bracket":
                text = _BRACKET_ESCAPE.sub(r"\1", text)
            if kind is not None:
                tokens.append(Token(kind, text, line, col))
            break
        else:  # pragma: no cover - the INVALID rule matches any other character
            tokens.append(Token(LEX_ERROR, "", match_line, match_col))
            return tokens


# ---------------------------------------------------------------------------
# The tree (the shapes of Handlebars' AST, with only what rendering needs)


class Strip:
    __slots__ = ("open", "close")

    def __init__(self, open: bool = False, close: bool = False) -> None:
        self.open = open
        self.close = close


def strip_flags(open_text: str, close_text: str) -> Strip:
    return Strip(open_text[2:3] == "~", len(close_text) >= 3 and close_text[len(close_text) - 3] == "~")


class Node:
    __slots__ = ("line", "column")
    type = "Node"

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column


class Program(Node):
    __slots__ = ("body", "block_params", "chained")
    type = "Program"

    def __init__(self, body: List[Node], line: int = 1, column: int = 0) -> None:
        super().__init__(line, column)
        self.body = body
        self.block_params: Optional[List[str]] = None
        self.chained = False


class ContentStatement(Node):
    __slots__ = ("original", "value", "right_stripped", "left_stripped")
    type = "ContentStatement"

    def __init__(self, text: str, line: int, column: int) -> None:
        super().__init__(line, column)
        self.original = text
        self.value = text
        self.right_stripped = False
        self.left_stripped = False


class CommentStatement(Node):
    __slots__ = ("strip",)
    type = "CommentStatement"

    def __init__(self, strip: Strip, line: int, column: int) -> None:
        super().__init__(line, column)
        self.strip = strip


class PathExpression(Node):
    __slots__ = ("data", "depth", "parts", "original")
    type = "PathExpression"

    def __init__(self, data: bool, depth: int, parts: List[str], original: str, line: int, column: int) -> None:
        super().__init__(line, column)
        self.data = data
        self.depth = depth
        self.parts = parts
        self.original = original


class Literal(Node):
    """StringLiteral, NumberLiteral, BooleanLiteral, UndefinedLiteral or NullLiteral."""

    __slots__ = ("type", "value", "original")

    def __init__(self, type_: str, value: Any, original: Any, line: int, column: int) -> None:
        super().__init__(line, column)
        self.type = type_
        self.value = value
        self.original = original


class Hash:
    __slots__ = ("pairs",)

    def __init__(self, pairs: List[Tuple[str, Any]]) -> None:
        self.pairs = pairs


class SubExpression(Node):
    __slots__ = ("path", "params", "hash")
    type = "SubExpression"

    def __init__(self, path: Any, params: List[Any], hash: Optional[Hash], line: int, column: int) -> None:
        super().__init__(line, column)
        self.path = path
        self.params = params
        self.hash = hash


class MustacheStatement(Node):
    __slots__ = ("path", "params", "hash", "strip", "type")

    def __init__(self, type_: str, path: Any, params: List[Any], hash: Optional[Hash], strip: Strip, line: int, column: int) -> None:
        super().__init__(line, column)
        self.type = type_  # MustacheStatement or Decorator
        self.path = path
        self.params = params
        self.hash = hash
        self.strip = strip


class PartialStatement(Node):
    __slots__ = ("strip", "name", "params", "hash", "indent")
    type = "PartialStatement"

    def __init__(self, strip: Strip, line: int, column: int, name: Any = None, params: Optional[List[Any]] = None, hash: Optional[Hash] = None) -> None:
        super().__init__(line, column)
        self.strip = strip
        self.name = name
        self.params: List[Any] = params or []
        self.hash = hash
        # The whitespace before a standalone partial's tag, given to each line it renders (Handlebars' indent).
        self.indent = ""


class BlockStatement(Node):
    __slots__ = ("type", "path", "params", "hash", "program", "inverse", "open_strip", "inverse_strip", "close_strip", "raw")

    def __init__(self, type_: str, line: int, column: int) -> None:
        super().__init__(line, column)
        self.type = type_  # BlockStatement, DecoratorBlock or PartialBlockStatement
        self.path: Any = None
        self.params: List[Any] = []
        self.hash: Optional[Hash] = None
        self.program: Optional[Program] = None
        self.inverse: Optional[Program] = None
        self.open_strip = Strip()
        self.inverse_strip = Strip()
        self.close_strip = Strip()
        self.raw = False


# ---------------------------------------------------------------------------
# The parser

# Jison's token names, in words a template author knows (as the server says them).
_TOKEN_NAMES = {
    CLOSE: '"}}"',
    CLOSE_UNESCAPED: '"}}}"',
    OPEN: '"{{"',
    OPEN_BLOCK: '"{{#"',
    OPEN_ENDBLOCK: '"{{/"',
    OPEN_INVERSE: '"{{^"',
    INVERSE: '"{{else}}"',
    ID: "name",
    OPEN_SEXPR: '"("',
    CLOSE_SEXPR: '")"',
}

# Tokens after which a path is complete (Handlebars reduces it, and may then
# find it invalid); any other token after a path is a parse error first.
_PATH_FOLLOW = frozenset(
    [CLOSE_RAW_BLOCK, CLOSE, CLOSE_UNESCAPED, OPEN_SEXPR, CLOSE_SEXPR, ID, OPEN_BLOCK_PARAMS, STRING, NUMBER, BOOLEAN, UNDEFINED, NULL, DATA]
)
_HELPER_NAME_START = frozenset([ID, DATA, STRING, NUMBER, BOOLEAN, UNDEFINED, NULL])
_PARAM_START = _HELPER_NAME_START | {OPEN_SEXPR}


def syntax_error(message: str, line: int, column: int) -> TemplateError:
    return TemplateError(
        "template_syntax_error",
        f"template syntax error at line {line}, column {column}: {message}",
        {"line": line, "column": column},
    )


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.i = 0

    # -- tokens

    def peek(self) -> Token:
        token = self.tokens[self.i]
        if token.kind == LEX_ERROR:
            raise syntax_error("cannot parse the template", token.line, token.column + 1)
        return token

    def take(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def fail(self, token: Token) -> TemplateError:
        kind = token.kind
        if kind == EOF:
            what = "the template ends inside an unclosed {{...}} tag or {{#block}}"
        elif kind == INVALID:
            what = "unexpected character inside {{...}}"
        elif kind == END:
            what = "cannot parse the template"
        else:
            what = "unexpected " + _TOKEN_NAMES.get(kind, kind.lower().replace("_", " "))
        return syntax_error(what, token.line, token.column + 1)

    def expect(self, kind: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            raise self.fail(token)
        self.i += 1
        return token

    # -- grammar

    def root(self) -> Program:
        program = self.program()
        token = self.peek()
        if token.kind != EOF:
            raise self.fail(token)
        return program

    def program(self) -> Program:
        body: List[Node] = []
        first = self.peek()
        while True:
            token = self.peek()
            kind = token.kind
            if kind == CONTENT:
                self.i += 1
                body.append(ContentStatement(token.text, token.line, token.column))
            elif kind == COMMENT:
                self.i += 1
                body.append(CommentStatement(strip_flags(token.text, token.text), token.line, token.column))
            elif kind in (OPEN, OPEN_UNESCAPED):
                body.append(self.mustache())
            elif kind in (OPEN_BLOCK, OPEN_INVERSE):
                body.append(self.block())
            elif kind == OPEN_RAW_BLOCK:
                body.append(self.raw_block())
            elif kind == OPEN_PARTIAL:
                body.append(self.partial())
            elif kind == OPEN_PARTIAL_BLOCK:
                body.append(self.partial_block())
            else:
                line, column = (body[0].line, body[0].column) if body else (first.line, first.column)
                return Program(body, line, column)

    def mustache(self) -> MustacheStatement:
        open_token = self.take()
        path = self.helper_name()
        params, hash_ = self.params_and_hash()
        close_kind = CLOSE if open_token.kind == OPEN else CLOSE_UNESCAPED
        close = self.expect(close_kind)
        type_ = "Decorator" if "*" in open_token.text else "MustacheStatement"
        return MustacheStatement(type_, path, params, hash_, strip_flags(open_token.text, close.text), open_token.line, open_token.column)

    def partial(self) -> PartialStatement:
        open_token = self.take()
        name = self.partial_name()
        params, hash_ = self.params_and_hash()
        close = self.expect(CLOSE)
        return PartialStatement(strip_flags(open_token.text, close.text), open_token.line, open_token.column, name, params, hash_)

    def partial_name(self) -> Any:
        if self.peek().kind == OPEN_SEXPR:
            return self.sexpr()
        return self.helper_name()

    def partial_block(self) -> BlockStatement:
        open_token = self.take()
        name = self.partial_name()
        self.params_and_hash()
        close = self.expect(CLOSE)
        block = BlockStatement("PartialBlockStatement", open_token.line, open_token.column)
        block.path = name
        block.open_strip = strip_flags(open_token.text, close.text)
        block.program = self.program()
        close_name, block.close_strip = self.close_block()
        self.validate_close(name, close_name)
        return block

    def raw_block(self) -> BlockStatement:
        open_token = self.take()
        path = self.helper_name()
        params, hash_ = self.params_and_hash()
        self.expect(CLOSE_RAW_BLOCK)
        body: List[Node] = []
        while self.peek().kind == CONTENT:
            token = self.take()
            body.append(ContentStatement(token.text, token.line, token.column))
        end = self.expect(END_RAW_BLOCK)
        self.peek()  # Handlebars reads the next token before it checks the names
        self.validate_close(path, end.text)
        block = BlockStatement("BlockStatement", open_token.line, open_token.column)
        block.path, block.params, block.hash = path, params, hash_
        block.program = Program(body, open_token.line, open_token.column)
        block.raw = True
        return block

    def open_tag(self) -> Tuple[Token, Any, List[Any], Optional[Hash], Optional[List[str]], Strip]:
        """OPEN_BLOCK | OPEN_INVERSE | OPEN_INVERSE_CHAIN helperName param* hash? blockParams? CLOSE"""
        open_token = self.take()
        path = self.helper_name()
        params, hash_ = self.params_and_hash()
        block_params: Optional[List[str]] = None
        if self.peek().kind == OPEN_BLOCK_PARAMS:
            self.i += 1
            block_params = [self.expect(ID).text]
            while self.peek().kind == ID:
                block_params.append(self.take().text)
            self.expect(CLOSE_BLOCK_PARAMS)
        close = self.expect(CLOSE)
        return open_token, path, params, hash_, block_params, strip_flags(open_token.text, close.text)

    def block(self) -> BlockStatement:
        open_token, path, params, hash_, block_params, open_strip = self.open_tag()
        program = self.program()
        program.block_params = block_params
        inverted = open_token.kind == OPEN_INVERSE
        chain: Optional[dict] = None
        token = self.peek()
        if token.kind == INVERSE:
            chain = self.inverse_and_program()
        elif token.kind == OPEN_INVERSE_CHAIN and not inverted:
            chain = self.inverse_chain()
        close_name, close_strip = self.close_block()
        self.validate_close(path, close_name)
        decorator = "*" in open_token.text
        return self.prepare_block(
            "DecoratorBlock" if decorator else "BlockStatement",
            open_token, path, params, hash_, open_strip, program, chain, close_strip, inverted,
        )

    def prepare_block(
        self,
        type_: str,
        open_token: Token,
        path: Any,
        params: List[Any],
        hash_: Optional[Hash],
        open_strip: Strip,
        program: Program,
        chain: Optional[dict],
        close_strip: Optional[Strip],
        inverted: bool,
    ) -> BlockStatement:
        block = BlockStatement(type_, open_token.line, open_token.column)
        block.path, block.params, block.hash = path, params, hash_
        block.open_strip = open_strip
        inverse: Optional[Program] = None
        if chain is not None:
            if type_ == "DecoratorBlock":
                # Handlebars throws this without a location: the engine reports the lexer's position.
                token = self.tokens[min(self.i, len(self.tokens) - 1)]
                raise syntax_error("cannot parse the template", token.line, token.column + 1)
            if chain["chain"]:
                chain["program"].body[0].close_strip = close_strip
            block.inverse_strip = chain["strip"]
            inverse = chain["program"]
        if inverted:
            program, inverse = inverse, program  # type: ignore[assignment]
        block.program = program
        block.inverse = inverse
        block.close_strip = close_strip if close_strip is not None else Strip()
        return block

    def inverse_and_program(self) -> dict:
        token = self.take()
        return {"strip": strip_flags(token.text, token.text), "program": self.program(), "chain": False}

    def inverse_chain(self) -> dict:
        open_token, path, params, hash_, block_params, open_strip = self.open_tag()
        program = self.program()
        program.block_params = block_params
        nested: Optional[dict] = None
        token = self.peek()
        if token.kind == INVERSE:
            nested = self.inverse_and_program()
        elif token.kind == OPEN_INVERSE_CHAIN:
            nested = self.inverse_chain()
        close_strip = nested["strip"] if nested is not None else None
        block = self.prepare_block("BlockStatement", open_token, path, params, hash_, open_strip, program, nested, close_strip, False)
        wrapper = Program([block], program.line, program.column)
        wrapper.chained = True
        return {"strip": open_strip, "program": wrapper, "chain": True}

    def close_block(self) -> Tuple[Any, Strip]:
        open_token = self.expect(OPEN_ENDBLOCK)
        name = self.helper_name()
        close = self.expect(CLOSE)
        self.peek()  # Handlebars reads the next token before it checks the names
        return name, strip_flags(open_token.text, close.text)

    def validate_close(self, open_path: Any, close: Any) -> None:
        close_original = close if isinstance(close, str) else _original(close)
        open_original = _original(open_path)
        if not _strictly_equal(open_original, close_original):
            line, column = open_path.line, open_path.column
            raise syntax_error(f"{to_string(open_original)} doesn't match {to_string(close_original)}", line, column + 1)

    def params_and_hash(self) -> Tuple[List[Any], Optional[Hash]]:
        params: List[Any] = []
        while True:
            token = self.peek()
            if token.kind == ID and self.tokens[self.i + 1].kind == EQUALS:
                return params, self.hash()
            if token.kind not in _PARAM_START:
                return params, None
            params.append(self.param())

    def hash(self) -> Hash:
        pairs: List[Tuple[str, Any]] = []
        while self.peek().kind == ID:
            key = _id(self.take().text)
            self.expect(EQUALS)
            pairs.append((key, self.param()))
        return Hash(pairs)

    def param(self) -> Any:
        if self.peek().kind == OPEN_SEXPR:
            return self.sexpr()
        return self.helper_name()

    def sexpr(self) -> SubExpression:
        open_token = self.take()
        path = self.helper_name()
        params, hash_ = self.params_and_hash()
        self.expect(CLOSE_SEXPR)
        return SubExpression(path, params, hash_, open_token.line, open_token.column)

    def helper_name(self) -> Any:
        token = self.peek()
        kind = token.kind
        if kind == ID:
            return self.path(False, token)
        if kind == DATA:
            self.i += 1
            return self.path(True, token)
        self.i += 1
        if kind == STRING:
            return Literal("StringLiteral", token.text, token.text, token.line, token.column)
        if kind == NUMBER:
            value: Any = float(token.text) if "." in token.text else int(token.text)
            if token.text.startswith("-") and value == 0:
                value = -0.0
            return Literal("NumberLiteral", value, value, token.line, token.column)
        if kind == BOOLEAN:
            value = token.text == "true"
            return Literal("BooleanLiteral", value, value, token.line, token.column)
        if kind == UNDEFINED:
            return Literal("UndefinedLiteral", MISSING, MISSING, token.line, token.column)
        if kind == NULL:
            return Literal("NullLiteral", None, None, token.line, token.column)
        self.i -= 1
        raise self.fail(token)

    def path(self, data: bool, at: Token) -> PathExpression:
        first = self.expect(ID)
        segments: List[Tuple[str, str, str]] = [(_id(first.text), first.text, "")]
        while self.peek().kind == SEP:
            sep = self.take().text
            token = self.expect(ID)
            segments.append((_id(token.text), token.text, sep))
        if self.peek().kind not in _PATH_FOLLOW:
            raise self.fail(self.peek())
        line, column = (at.line, at.column)
        original = "@" if data else ""
        parts: List[str] = []
        depth = 0
        for part, raw, sep in segments:
            literal = raw != part
            original += sep + part
            if not literal and part in ("..", ".", "this"):
                if parts:
                    raise syntax_error(f"Invalid path: {original}", line, column + 1)
                if part == "..":
                    depth += 1
            else:
                parts.append(part)
        return PathExpression(data, depth, parts, original, line, column)


def _id(token: str) -> str:
    if len(token) >= 2 and token[0] == "[" and token[-1] == "]":
        return token[1:-1]
    return token


def _original(node: Any) -> Any:
    """A node's ``original``: text for paths, the value for literals, undefined for a subexpression."""
    if isinstance(node, (PathExpression, Literal)):
        return node.original
    return MISSING


def _strictly_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``a === b`` for the originals of two helper names."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return a is b


# ---------------------------------------------------------------------------
# Whitespace control: `~` and standalone lines

_BLANK = "[" + WS.replace("\\n", "") + "]"  # whitespace but not \n
_PREV_WS = re.compile(r"(?:^|" + _NS + r")" + _BLANK + r"*\n" + _S + r"*\Z")
_PREV_WS_ROOT = re.compile(r"^" + _S + r"*\Z|(?:^|" + _NS + r")" + _BLANK + r"*\n" + _S + r"*\Z")
_NEXT_WS = re.compile(_S + r"*?\r?\n")
_NEXT_WS_ROOT = re.compile(_S + r"*?(?:\r?\n|\Z)")
_LEADING_WS = re.compile(r"^" + _S + r"+")
_LEADING_LINE = re.compile(r"^[ \t]*\r?\n?")
_TRAILING_WS = re.compile(r"(^|" + _NS + r")" + _S + r"+\Z")
_TRAILING_BLANKS = re.compile(r"(^|[^ \t])[ \t]+\Z")
_INDENT = re.compile(r"[ \t]+\Z")


def _prev_is_whitespace(body: List[Node], i: Optional[int] = None, is_root: bool = False) -> bool:
    if i is None:
        i = len(body)
    prev = body[i - 1] if i >= 1 else None
    sibling = body[i - 2] if i >= 2 else None
    if prev is None:
        return is_root
    if isinstance(prev, ContentStatement):
        regex = _PREV_WS if (sibling is not None or not is_root) else _PREV_WS_ROOT
        return regex.search(prev.original) is not None
    return False


def _next_is_whitespace(body: List[Node], i: Optional[int] = None, is_root: bool = False) -> bool:
    if i is None:
        i = -1
    nxt = body[i + 1] if i + 1 < len(body) else None
    sibling = body[i + 2] if i + 2 < len(body) else None
    if nxt is None:
        return is_root
    if isinstance(nxt, ContentStatement):
        regex = _NEXT_WS if (sibling is not None or not is_root) else _NEXT_WS_ROOT
        return regex.match(nxt.original) is not None
    return False


def _omit_right(body: List[Node], i: Optional[int] = None, multiple: bool = False) -> None:
    index = 0 if i is None else i + 1
    current = body[index] if 0 <= index < len(body) else None
    if not isinstance(current, ContentStatement) or (not multiple and current.right_stripped):
        return
    original = current.value
    current.value = (_LEADING_WS if multiple else _LEADING_LINE).sub("", current.value, count=1)
    current.right_stripped = current.value != original


def _omit_left(body: List[Node], i: Optional[int] = None, multiple: bool = False) -> bool:
    index = len(body) - 1 if i is None else i - 1
    current = body[index] if 0 <= index < len(body) else None
    if not isinstance(current, ContentStatement) or (not multiple and current.left_stripped):
        return False
    original = current.value
    current.value = (_TRAILING_WS if multiple else _TRAILING_BLANKS).sub(r"\1", current.value, count=1)
    current.left_stripped = current.value != original
    return current.left_stripped


class _StripInfo:
    __slots__ = ("open", "close", "open_standalone", "close_standalone", "inline_standalone")

    def __init__(self, open: bool = False, close: bool = False, open_standalone: bool = False, close_standalone: bool = False, inline_standalone: bool = False) -> None:
        self.open = open
        self.close = close
        self.open_standalone = open_standalone
        self.close_standalone = close_standalone
        self.inline_standalone = inline_standalone


class _WhitespaceControl:
    def __init__(self) -> None:
        self.root_seen = False

    def program(self, program: Program) -> None:
        is_root = not self.root_seen
        self.root_seen = True
        body = program.body
        for i, current in enumerate(body):
            strip = self.accept(current)
            if strip is None:
                continue
            prev_ws = _prev_is_whitespace(body, i, is_root)
            next_ws = _next_is_whitespace(body, i, is_root)
            open_standalone = strip.open_standalone and prev_ws
            close_standalone = strip.close_standalone and next_ws
            inline_standalone = strip.inline_standalone and prev_ws and next_ws
            if strip.close:
                _omit_right(body, i, True)
            if strip.open:
                _omit_left(body, i, True)
            if inline_standalone:
                _omit_right(body, i)
                if _omit_left(body, i) and isinstance(current, PartialStatement):
                    prev = body[i - 1]
                    assert isinstance(prev, ContentStatement)
                    found = _INDENT.search(prev.original)
                    current.indent = found.group(0) if found else ""
            if open_standalone:
                block = current
                assert isinstance(block, BlockStatement)
                _omit_right((block.program or block.inverse).body)  # type: ignore[union-attr]
                _omit_left(body, i)
            if close_standalone:
                block = current
                assert isinstance(block, BlockStatement)
                _omit_right(body, i)
                _omit_left((block.inverse or block.program).body)  # type: ignore[union-attr]

    def accept(self, node: Node) -> Optional[_StripInfo]:
        if isinstance(node, BlockStatement):
            return self.block(node)
        if isinstance(node, MustacheStatement):
            return _StripInfo(node.strip.open, node.strip.close)
        if isinstance(node, (CommentStatement, PartialStatement)):
            return _StripInfo(node.strip.open, node.strip.close, inline_standalone=True)
        return None

    def block(self, block: BlockStatement) -> _StripInfo:
        if block.program is not None:
            self.program(block.program)
        if block.inverse is not None:
            self.program(block.inverse)
        program = block.program or block.inverse
        assert program is not None
        inverse = block.inverse if block.program is not None else None
        first_inverse = last_inverse = inverse
        if inverse is not None and inverse.chained:
            first_inverse = inverse.body[0].program  # type: ignore[attr-defined]
            while last_inverse is not None and last_inverse.chained:
                last_inverse = last_inverse.body[-1].program  # type: ignore[attr-defined]
        strip = _StripInfo(
            open=block.open_strip.open,
            close=block.close_strip.close,
            open_standalone=_next_is_whitespace(program.body),
            close_standalone=_prev_is_whitespace((first_inverse or program).body),
        )
        if block.open_strip.close:
            _omit_right(program.body, None, True)
        if inverse is not None:
            if block.inverse_strip.open:
                _omit_left(program.body, None, True)
            if block.inverse_strip.close:
                _omit_right(first_inverse.body, None, True)  # type: ignore[union-attr]
            if block.close_strip.open:
                _omit_left(last_inverse.body, None, True)  # type: ignore[union-attr]
            if _prev_is_whitespace(program.body) and _next_is_whitespace(first_inverse.body):  # type: ignore[union-attr]
                _omit_left(program.body)
                _omit_right(first_inverse.body)  # type: ignore[union-attr]
        elif block.close_strip.open:
            _omit_left(program.body, None, True)
        return strip


def parse(source: str) -> Program:
    """Parses a template into Handlebars' tree, with whitespace control applied."""
    program = _Parser(source).root()
    _WhitespaceControl().program(program)
    return program
