"""Rendering a fetched prompt locally, text or chat, as the registry's render does.

A resolve answer carries everything: the message templates (or the text
template), the ``input_schema``, and ``partials``: each partial the templates
include (nested ones too) by its reference as written, registered here under
that reference. ``render_prompt`` checks the placeholder messages, checks the
variables against the input schema (defaults filled in) or, without one,
requires every variable used, then renders each message with placeholders
filled and partials expanded. The TypeScript client does the same
(``test/vectors/chat.json`` holds both to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, TypedDict, Union

from .errors import InvalidInputError, TemplateError
from .input_schema import apply_input_schema
from .limits import Budget, Limits, resolve_limits
from .render import MAX_PARTIAL_DEPTH, CompiledTemplate, compile_template

if TYPE_CHECKING:  # pragma: no cover
    from .prompt import Prompt

__all__ = [
    "CHAT_ROLES",
    "ChatMessage",
    "CompiledPrompt",
    "MessageTemplate",
    "PartialUsed",
    "PlaceholderMessage",
    "PromptMessage",
    "RenderResult",
    "ResolvedPartial",
    "compile_prompt",
    "render_prompt",
]

CHAT_ROLES = ("system", "user", "assistant", "tool")


class ChatMessage(TypedDict):
    """A rendered message (and what a placeholder is filled with): plain text."""

    role: str  # system, user, assistant or tool
    content: str


class MessageTemplate(TypedDict):
    """A message of a chat prompt: ``content`` is a template."""

    role: str
    content: str


class PlaceholderMessage(TypedDict):
    """``{"type": "placeholder", "name": "history"}``: filled at render time."""

    type: str  # "placeholder"
    name: str


#: An item of ``Prompt.messages``.
PromptMessage = Union[MessageTemplate, PlaceholderMessage]


class ResolvedPartial(TypedDict):
    """A partial as a resolve answer carries it, under its reference as written."""

    prompt: str
    version: int
    version_id: str
    content: str


class PartialUsed(TypedDict):
    """A partial version that went into a render."""

    prompt: str
    version: int
    version_id: str


@dataclass(frozen=True)
class RenderResult:
    """A rendered prompt: ``text`` for a text prompt, ``messages`` (``{"role", "content"}``
    dicts, placeholders filled, partials expanded) for a chat prompt, with the ``config`` to call
    the model with and ``partials_used``: each partial version that went in
    (``{"prompt", "version", "version_id"}``), once, in order of first inclusion."""

    type: str
    text: Optional[str]
    messages: Optional[List[ChatMessage]]
    config: Dict[str, Any]
    partials_used: List[PartialUsed] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledPrompt:
    """A prompt's templates compiled: one per template message (None for a placeholder) or the
    one text template, and the partials they include, compiled, by reference."""

    templates: List[Optional[CompiledTemplate]]
    partials: Dict[str, CompiledTemplate]
    partials_used: List[PartialUsed]


def compile_prompt(prompt: "Prompt", limits: Optional[Limits] = None) -> CompiledPrompt:
    """Compiles a prompt's templates and the partials they include (each within the compile
    limits on its own); raises TemplateError ``missing_partial``, ``reference_cycle`` or
    ``reference_too_deep`` for a partial tree the registry would not resolve."""
    sources: List[Optional[str]]
    if prompt.type == "chat":
        sources = [m["content"] if "role" in m else None for m in (prompt.messages or [])]
    else:
        sources = [prompt.content or ""]
    given: Mapping[str, Mapping[str, Any]] = prompt.partials or {}
    compiled_partials: Dict[str, CompiledTemplate] = {}
    used: List[PartialUsed] = []
    seen_versions = set()
    checked: Dict[str, int] = {}

    def walk(template: CompiledTemplate, chain: List[str]) -> None:
        for ref in template.partials:
            partial = given.get(ref)
            if partial is None:
                raise TemplateError("missing_partial", f'the partial "{ref}" was not given', {"partial": ref})
            name = partial["prompt"]
            if name in chain:
                cycle = chain + [name]
                raise TemplateError("reference_cycle", f"the partials make a cycle: {' -> '.join(cycle)}", {"chain": cycle})
            if len(chain) > MAX_PARTIAL_DEPTH:
                raise TemplateError(
                    "reference_too_deep", f"partials nest more than {MAX_PARTIAL_DEPTH} deep: {' -> '.join(chain + [name])}", {"max": MAX_PARTIAL_DEPTH}
                )
            if partial["version_id"] not in seen_versions:
                seen_versions.add(partial["version_id"])
                used.append({"prompt": name, "version": partial["version"], "version_id": partial["version_id"]})
            # Checked from this depth (or a shallower one) already: its subtree fits.
            if checked.get(ref, float("inf")) <= len(chain):
                continue
            inner = compiled_partials.get(ref)
            if inner is None:
                inner = compiled_partials[ref] = compile_template(partial["content"], limits)
            walk(inner, chain + [name])
            checked[ref] = len(chain)

    templates: List[Optional[CompiledTemplate]] = []
    for source in sources:
        if source is None:
            templates.append(None)
            continue
        template = compile_template(source, limits)
        walk(template, [prompt.name])
        templates.append(template)
    return CompiledPrompt(templates, compiled_partials, used)


def _check_placeholders(placeholders: Any) -> Dict[str, List[ChatMessage]]:
    if placeholders is None:
        return {}
    if not isinstance(placeholders, Mapping):
        raise InvalidInputError("invalid_placeholders", "placeholders", "placeholders: must be an object of names to lists of messages")
    out: Dict[str, List[ChatMessage]] = {}
    for name, messages in placeholders.items():
        at = f"placeholders.{name}"
        if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
            raise InvalidInputError("invalid_placeholders", at, f"{at}: must be a list of messages")
        checked: List[ChatMessage] = []
        for i, m in enumerate(messages):
            where = f"{at}[{i}]"
            if not isinstance(m, Mapping):
                raise InvalidInputError("invalid_placeholders", where, f"{where}: must be a message {{role, content}}")
            role, content = m.get("role"), m.get("content")
            if not isinstance(role, str) or role not in CHAT_ROLES:
                raise InvalidInputError("invalid_placeholders", f"{where}.role", f"{where}.role: role is one of {', '.join(CHAT_ROLES)}")
            if not isinstance(content, str):
                raise InvalidInputError("invalid_placeholders", f"{where}.content", f"{where}.content: must be a string")
            checked.append({"role": role, "content": content})
        out[name] = checked
    return out


def render_prompt(
    prompt: "Prompt",
    compiled: CompiledPrompt,
    variables: Mapping[str, Any],
    placeholders: Optional[Mapping[str, Any]] = None,
    limits: Optional[Limits] = None,
) -> RenderResult:
    """Renders a compiled prompt; the output budget holds for the whole prompt, the other
    render budgets for each template. Raises InvalidInputError or TemplateError."""
    filled = _check_placeholders(placeholders)
    data = apply_input_schema(prompt.input_schema, variables) if prompt.input_schema else variables
    names = {m["name"] for m in (prompt.messages or []) if m.get("type") == "placeholder"}
    for name in filled:
        if name not in names:
            at = f"placeholders.{name}"
            raise InvalidInputError("unknown_placeholder", at, f'{at}: "{prompt.name}" version {prompt.version} has no placeholder "{name}"')
    resolved = resolve_limits(limits)
    partials = compiled.partials
    used = list(compiled.partials_used)
    if prompt.type != "chat":
        text = compiled.templates[0].render(data, resolved, partials)  # type: ignore[union-attr]
        return RenderResult("text", text, None, dict(prompt.config), used)
    messages: List[ChatMessage] = []
    total = 0
    for m, template in zip(prompt.messages or [], compiled.templates):
        if template is None:
            messages.extend({"role": p["role"], "content": p["content"]} for p in filled.get(m["name"], []))
            continue
        content = template.render(data, resolved, partials)
        total += len(content)
        messages.append({"role": m["role"], "content": content})
    # The messages' templates share one output budget, as in the registry (placeholders are the caller's text).
    if total > resolved.max_output_chars:
        Budget(resolved).output(total)
    return RenderResult("chat", None, messages, dict(prompt.config), used)
