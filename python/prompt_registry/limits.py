"""Template budgets: what a template may cost to compile and to render.

The same limits, counted the same way, as the server and the TypeScript
client (``test/vectors/render-limits.json`` holds all three to it), so a
hostile template fetched from a registry cannot stall an application:

- compiling refuses a template over ``max_template_chars`` code points, with
  more than ``max_tags`` tags or blocks nested deeper than ``max_depth``
  (``template_too_large``), checked by one linear pass before the parser,
  which is recursive, sees the text;
- rendering stops (``render_too_large``) after ``max_iterations`` executions
  of ``{{#each}}`` bodies (nested ones included), when the output passes
  ``max_output_chars`` code points, or after ``timeout_ms``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Tuple, Union

from .errors import TemplateError

__all__ = ["DEFAULT_LIMITS", "Limits", "TemplateLimits", "resolve_limits"]


_NAMES = ("max_template_chars", "max_tags", "max_depth", "max_iterations", "max_output_chars", "timeout_ms")


@dataclass(frozen=True)
class TemplateLimits:
    """Compile and render limits; every field defaults to the registry's default.

    Compile: ``max_template_chars``, ``max_tags``, ``max_depth``. Render:
    ``max_iterations``, ``max_output_chars``, ``timeout_ms``. Sizes are in
    Unicode code points (Python's ``len``).
    """

    max_template_chars: int = 200_000
    max_tags: int = 5000
    max_depth: int = 32
    max_iterations: int = 100_000
    max_output_chars: int = 1_000_000
    timeout_ms: float = 2000

    if TYPE_CHECKING:  # set in __post_init__, not fields
        _compile_key: Tuple[int, int, int]
        _shared_budget: "Budget"

    def __post_init__(self) -> None:
        for name in _NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
                raise ValueError(f"template limit {name} must be a number >= 0, not {value!r}")
        object.__setattr__(self, "_compile_key", (self.max_template_chars, self.max_tags, self.max_depth))
        object.__setattr__(self, "_shared_budget", Budget(self))

    @property
    def compile_key(self) -> Tuple[int, int, int]:
        """The limits compiling depends on (compiled templates are cached by them)."""
        return self._compile_key


#: What the API takes for ``limits``: a TemplateLimits, or a mapping of some of
#: its names (``{"timeout_ms": 500}``) laid over the limits that apply otherwise.
Limits = Union[TemplateLimits, Mapping[str, Any]]


def resolve_limits(limits: Optional[Limits], base: Optional[TemplateLimits] = None) -> TemplateLimits:
    """``limits`` as a TemplateLimits: None is ``base`` (default: DEFAULT_LIMITS); a mapping overrides some of ``base``."""
    if base is None:
        base = DEFAULT_LIMITS
    if limits is None:
        return base
    if isinstance(limits, TemplateLimits):
        return limits
    if isinstance(limits, Mapping):
        unknown = sorted(set(limits) - set(_NAMES))
        if unknown:
            raise ValueError(f"unknown template limit {', '.join(map(str, unknown))}; the limits are {', '.join(_NAMES)}")
        return dataclasses.replace(base, **limits)
    raise TypeError(f"limits must be a TemplateLimits or a mapping of limit names, not {type(limits).__name__}")


# ---------------------------------------------------------------------------
# Compiling: size, then one linear pass for tags and depth (LIMITS.md)


def _too_large(limit: str, maximum: int, message: str) -> TemplateError:
    return TemplateError("template_too_large", message, {"limit": limit, "max": maximum})


def check_source(source: str, limits: TemplateLimits) -> None:
    """Raises ``template_too_large`` for a template over the compile limits.

    No recursion and no regular expressions: the cost is linear in the text,
    whatever it holds, so it can run before the (recursive) parser.
    """
    max_chars = limits.max_template_chars
    if len(source) > max_chars:
        raise _too_large("size", max_chars, f"the template is {len(source)} characters long; the limit is {max_chars}")
    max_tags, max_depth = limits.max_tags, limits.max_depth
    find = source.find
    n = len(source)
    i = tags = depth = 0
    closed = True
    scanned_to = 0
    # Where a search for "--}}" found none: no later search needs to look again
    # (or comments closed by "--~}}" would each scan to the end: quadratic).
    no_close_from = n + 1
    while True:
        i = find("{{", i)
        if i < 0:
            return
        tags += 1
        if tags > max_tags:
            raise _too_large("tags", max_tags, f"the template has more than {max_tags} tags; the limit is {max_tags}")
        j = i + 2
        if j < n and source[j] == "{":  # triple-stash
            j += 1
        if j < n and source[j] == "~":
            j += 1
        c = source[j] if j < n else ""
        if c == "!":
            # A comment: tags inside it count nothing. As Handlebars lexes it, "{{!--}}" is closed at once.
            if source.startswith("--", j + 1):
                plain = find("--}}", j + 1) if j + 1 < no_close_from else -1
                if plain < 0:
                    no_close_from = min(no_close_from, j + 1)
                # "--~}}" wins only before the first "--}}" (the two cannot overlap).
                tilde = find("--~}}", j + 1, plain if plain >= 0 else n)
                i = tilde + 5 if tilde >= 0 else plain + 4 if plain >= 0 else n
            else:
                e = find("}}", j + 1)
                i = e + 2 if e >= 0 else n
            continue
        if c == "#" or (c == "^" and _opens_inverse(source, j + 1, n)):
            depth += 1
            if depth > max_depth:
                raise _too_large("depth", max_depth, f"the template nests blocks {depth} deep; the limit is {max_depth}")
        elif c == "/":
            depth = max(0, depth - 1)
        # Sub-expressions nest too, and the parser recurses on them: "(" inside one tag counts against the same depth.
        # A tag that starts inside the previous one, or with no "}}" left, is one the parser refuses anyway:
        # skipping those keeps the scanned stretches apart, so the pass stays linear.
        close = find("}}", j) if closed and j >= scanned_to else -1
        if closed and j >= scanned_to and close < 0:
            closed = False
        nested = _paren_depth(source, j, close) if close >= 0 else 0
        if close >= 0:
            scanned_to = close + 2
        if nested > max_depth:
            raise _too_large("depth", max_depth, f"a tag nests (sub-expressions) {nested} deep; the limit is {max_depth}")
        i = j


def _paren_depth(source: str, k: int, end: int) -> int:
    """The deepest "(" nesting from ``k`` to ``end`` (a tag's closing "}}")."""
    depth = deepest = 0
    for ch in source[k:end]:
        if ch == "(":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch == ")" and depth:
            depth -= 1
    return deepest


def _opens_inverse(source: str, k: int, n: int) -> bool:
    """After ``{{^``: an inverse block (``{{^x}}``), not an ``{{^}}`` else."""
    while k < n and source[k] in " \t\r\n":  # the whitespace Handlebars allows in "{{^ }}"
        k += 1
    return k < n and source[k] not in "}~"


# ---------------------------------------------------------------------------
# Rendering: one budget per render, shared by every block of it


def _render_too_large(limit: str, maximum: float, message: str) -> TemplateError:
    return TemplateError("render_too_large", message, {"limit": limit, "max": maximum})


# The clock is read every this many loop bodies: cheap, and what runs between two
# readings is bounded (a body's own loops count toward the same bodies).
_CLOCK_EVERY = 64


class Budget:
    """What one render may still spend: ``each`` counts its bodies in ``iterations``
    and calls ``over`` when the count passes the limit or the clock is due.

    A template without loops has no iterations to count and a run time bounded
    by its size, so it renders with ``limits._shared_budget``, made once (no
    per-render cost); only ``output`` is used then.
    """

    __slots__ = ("limits", "max_output", "iterations", "checkpoint", "deadline")

    def __init__(self, limits: TemplateLimits) -> None:
        self.limits = limits
        self.max_output = limits.max_output_chars
        self.iterations = 0
        self.checkpoint = min(limits.max_iterations, _CLOCK_EVERY)
        self.deadline = time.monotonic() + limits.timeout_ms / 1000

    def over(self, iterations: int) -> None:
        """Called when ``iterations`` passes ``checkpoint``: raises when that is over the
        limit or the deadline has passed, else sets the next checkpoint."""
        m = self.limits.max_iterations
        if iterations > m:
            raise _render_too_large(
                "iterations",
                m,
                f"rendering ran more than {m} loop iterations; the limit is {m} (a loop inside a loop multiplies: check nested {{{{#each}}}})",
            )
        if time.monotonic() > self.deadline:
            t = self.limits.timeout_ms
            shown = int(t) if t == int(t) else t
            raise _render_too_large("time", t, f"rendering took more than {shown} ms; the limit is {shown} ms")
        self.checkpoint = min(m, iterations + _CLOCK_EVERY - 1)

    def output(self, size: int) -> None:
        """``size`` code points of output exist (or are about to): stop if that is over the limit."""
        if size > self.max_output:
            m = self.max_output
            raise _render_too_large("output", m, f"the rendered text is more than {m} characters long; the limit is {m}")


#: The defaults: the same in the server, the TypeScript client and here.
DEFAULT_LIMITS = TemplateLimits()
