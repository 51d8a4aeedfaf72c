"""What ``PromptClient.get`` answers: a prompt version with its model settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

from .limits import DEFAULT_LIMITS, Limits, TemplateLimits, resolve_limits

if TYPE_CHECKING:  # pragma: no cover
    from .chat import CompiledPrompt, RenderResult
    from .render import CompiledTemplate

__all__ = ["Prompt", "RenderedPrompt", "FallbackPrompt", "prompt_from_resolved", "prompt_from_fallback"]

#: A prompt to use when the registry is unreachable at a cold start: the
#: template text, or a dict with ``content`` (or ``type: "chat"`` and
#: ``messages``) and optionally ``model``, ``temperature``, ``max_tokens``,
#: ``metadata``, ``config`` and ``input_schema``.
FallbackPrompt = Union[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Prompt:
    """A prompt version as the client serves it.

    ``source`` says where it came from: ``"registry"`` (fresh or cached),
    ``"bundle"`` (a file written by ``prompt-registry export``) or
    ``"fallback"`` (given in code; then ``version`` is 0 and ``version_id``
    and ``content_hash`` are None). ``environment`` is None for a version
    fetched by number and for a fallback.

    ``type`` is ``"text"`` (the template in ``content``) or ``"chat"`` (the
    message templates and placeholders in ``messages``; ``content`` is None).
    ``config`` is the full model configuration, ``input_schema`` the JSON
    Schema for the variables (or None), ``partials`` the partials the
    templates include, by reference as written (from the resolve answer).
    """

    name: str
    environment: Optional[str]
    version: int
    version_id: Optional[str]
    content: Optional[str]
    content_hash: Optional[str]
    model: str
    temperature: float
    max_tokens: int
    variables: List[str]
    metadata: Dict[str, Any]
    deployed_at: Optional[str]
    source: str
    type: str = "text"
    messages: Optional[List[Dict[str, Any]]] = None
    config: Dict[str, Any] = field(default_factory=dict)
    input_schema: Optional[Dict[str, Any]] = None
    includes: List[Dict[str, Any]] = field(default_factory=list)
    partials: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    #: During a rollout: ``"candidate"`` or ``"live"``, the variant this is.
    variant: Optional[str] = None
    #: During a rollout: ``{"id", "candidate", "live", "weight"}``, from which keys are assigned locally.
    rollout: Optional[Dict[str, Any]] = None
    # The compiled template, made on first render and kept with the prompt, with
    # the (immutable) limits it was last rendered with: one tuple, so threads
    # never see a template with another call's limits.
    _compiled: Optional[Tuple["CompiledTemplate", Optional[TemplateLimits]]] = field(default=None, init=False, repr=False, compare=False)
    _compiled_full: Optional[Tuple["CompiledPrompt", TemplateLimits]] = field(default=None, init=False, repr=False, compare=False)

    def render(self, variables: Mapping[str, Any], limits: Optional[Limits] = None) -> str:
        """Renders this text prompt strictly (TemplateError names a missing variable),
        within ``limits`` (default: DEFAULT_LIMITS; ``render_too_large`` or
        ``template_too_large`` when they run out). A chat prompt: ``render_full``."""
        if self.type == "chat":
            raise TypeError(f'"{self.name}" is a chat prompt: render_full() renders its messages')
        if self.partials or self.input_schema or self.includes:
            text = self.render_full(variables, limits=limits).text
            assert text is not None
            return text
        compiled = self._compiled
        if compiled is not None and compiled[1] is limits:  # never a mapping: one could change
            return compiled[0].render(variables, limits)
        resolved = DEFAULT_LIMITS if limits is None else limits if type(limits) is TemplateLimits else resolve_limits(limits)
        if compiled is not None and compiled[0].compile_limits == resolved.compile_key:
            template = compiled[0]
        else:
            from .render import compile_template

            template = compile_template(self.content, resolved)
        object.__setattr__(self, "_compiled", (template, limits if limits is None else resolved))
        return template.render(variables, resolved)

    def render_full(self, variables: Mapping[str, Any], placeholders: Optional[Mapping[str, Any]] = None, limits: Optional[Limits] = None) -> "RenderResult":
        """Renders this prompt, text or chat: ``text`` or ``messages`` (placeholders filled
        from ``placeholders``, partials expanded), with ``config`` and ``partials_used``.
        Raises InvalidInputError (variables the input schema refuses, bad placeholder
        messages) or TemplateError."""
        from .chat import compile_prompt, render_prompt

        resolved = DEFAULT_LIMITS if limits is None else limits if type(limits) is TemplateLimits else resolve_limits(limits)
        compiled = self._compiled_full
        if compiled is None or compiled[1].compile_key != resolved.compile_key:
            compiled = (compile_prompt(self, resolved), resolved)
            object.__setattr__(self, "_compiled_full", compiled)
        return render_prompt(self, compiled[0], variables, placeholders, resolved)


@dataclass(frozen=True)
class RenderedPrompt:
    """What ``PromptClient.execute`` passes to the LLM call: the rendered prompt and the prompt
    it came from. ``text`` for a text prompt (None for a chat prompt), ``messages`` for a chat
    prompt (None for a text prompt), the ``config`` and the ``partials_used``."""

    text: Optional[str]
    prompt: Prompt
    type: str = "text"
    messages: Optional[List[Dict[str, str]]] = None
    config: Dict[str, Any] = field(default_factory=dict)
    partials_used: List[Dict[str, Any]] = field(default_factory=list)


def prompt_from_resolved(name: str, environment: Optional[str], body: Mapping[str, Any], source: str) -> Prompt:
    """A resolve answer (``GET /prompts/{name}/latest``) or a bundle entry, as a Prompt."""
    version = body.get("version_number", body.get("version"))
    model = body.get("model", "gpt-4o")
    temperature = body.get("temperature", 0)
    max_tokens = body.get("max_tokens", 1000)
    config = body.get("config")
    return Prompt(
        name=name,
        environment=environment,
        version=int(version) if version is not None else 0,
        version_id=body.get("version_id"),
        content=body.get("content"),
        content_hash=body.get("content_hash"),
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        variables=list(body.get("variables") or []),
        metadata=dict(body.get("metadata") or {}),
        deployed_at=body.get("deployed_at"),
        source=source,
        type=body.get("type") or "text",
        messages=[dict(m) for m in body["messages"]] if body.get("messages") is not None else None,
        # Older registries have no config: the top-level settings are all of it.
        config=dict(config) if config is not None else {"model": model, "temperature": temperature, "max_tokens": max_tokens},
        input_schema=body.get("input_schema"),
        includes=list(body.get("includes") or []),
        partials=dict(body.get("partials") or {}),
        variant=(body.get("variant") or "live") if body.get("rollout") else None,
        rollout=dict(body["rollout"]) if body.get("rollout") else None,
    )


def prompt_from_fallback(name: str, fallback: FallbackPrompt) -> Prompt:
    """A prompt given in code, for when the registry is unreachable at a cold start."""
    from .render import extract_variables

    spec: Mapping[str, Any] = {"content": fallback} if isinstance(fallback, str) else fallback
    chat = "messages" in spec
    config = dict(spec.get("config") or {})
    model = config.get("model", spec.get("model", "gpt-4o"))
    temperature = config.get("temperature", spec.get("temperature", 0))
    max_tokens = config.get("max_tokens", spec.get("max_tokens", 1000))
    templates = [m["content"] for m in spec["messages"] if "role" in m] if chat else [spec["content"]]
    variables: List[str] = []
    for template in templates:
        variables.extend(v for v in extract_variables(template) if v not in variables)
    return Prompt(
        name=name,
        environment=None,
        version=0,
        version_id=None,
        content=None if chat else spec["content"],
        content_hash=None,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        variables=variables,
        metadata=dict(spec.get("metadata") or {}),
        deployed_at=None,
        source="fallback",
        type="chat" if chat else "text",
        messages=[dict(m) for m in spec["messages"]] if chat else None,
        config={**config, "model": model, "temperature": temperature, "max_tokens": max_tokens},
        input_schema=spec.get("input_schema"),
    )
