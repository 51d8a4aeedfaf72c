"""What ``PromptClient.get`` answers: a prompt version with its model settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

from .limits import DEFAULT_LIMITS, Limits, TemplateLimits, resolve_limits

if TYPE_CHECKING:  # pragma: no cover
    from .render import CompiledTemplate

__all__ = ["Prompt", "RenderedPrompt", "FallbackPrompt", "prompt_from_resolved", "prompt_from_fallback"]

#: A prompt to use when the registry is unreachable at a cold start: the
#: template text, or a dict with ``content`` and optionally ``model``,
#: ``temperature``, ``max_tokens`` and ``metadata``.
FallbackPrompt = Union[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Prompt:
    """A prompt version as the client serves it.

    ``source`` says where it came from: ``"registry"`` (fresh or cached),
    ``"bundle"`` (a file written by ``prompt-registry export``) or
    ``"fallback"`` (given in code; then ``version`` is 0 and ``version_id``
    and ``content_hash`` are None). ``environment`` is None for a version
    fetched by number and for a fallback.
    """

    name: str
    environment: Optional[str]
    version: int
    version_id: Optional[str]
    content: str
    content_hash: Optional[str]
    model: str
    temperature: float
    max_tokens: int
    variables: List[str]
    metadata: Dict[str, Any]
    deployed_at: Optional[str]
    source: str
    #: During a rollout: ``"candidate"`` or ``"live"``, the variant this is.
    variant: Optional[str] = None
    #: During a rollout: ``{"id", "candidate", "live", "weight"}``, from which keys are assigned locally.
    rollout: Optional[Dict[str, Any]] = None
    # The compiled template, made on first render and kept with the prompt, with
    # the (immutable) limits it was last rendered with: one tuple, so threads
    # never see a template with another call's limits.
    _compiled: Optional[Tuple["CompiledTemplate", Optional[TemplateLimits]]] = field(default=None, init=False, repr=False, compare=False)

    def render(self, variables: Mapping[str, Any], limits: Optional[Limits] = None) -> str:
        """Renders this prompt strictly (TemplateError names a missing variable),
        within ``limits`` (default: DEFAULT_LIMITS; ``render_too_large`` or
        ``template_too_large`` when they run out)."""
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


@dataclass(frozen=True)
class RenderedPrompt:
    """What ``PromptClient.execute`` passes to the LLM call: the text and the prompt it came from."""

    text: str
    prompt: Prompt


def prompt_from_resolved(name: str, environment: Optional[str], body: Mapping[str, Any], source: str) -> Prompt:
    """A resolve answer (``GET /prompts/{name}/latest``) or a bundle entry, as a Prompt."""
    version = body.get("version_number", body.get("version"))
    return Prompt(
        name=name,
        environment=environment,
        version=int(version) if version is not None else 0,
        version_id=body.get("version_id"),
        content=body["content"],
        content_hash=body.get("content_hash"),
        model=body.get("model", "gpt-4o"),
        temperature=body.get("temperature", 0),
        max_tokens=body.get("max_tokens", 1000),
        variables=list(body.get("variables") or []),
        metadata=dict(body.get("metadata") or {}),
        deployed_at=body.get("deployed_at"),
        source=source,
        variant=(body.get("variant") or "live") if body.get("rollout") else None,
        rollout=dict(body["rollout"]) if body.get("rollout") else None,
    )


def prompt_from_fallback(name: str, fallback: FallbackPrompt) -> Prompt:
    """A prompt given in code, for when the registry is unreachable at a cold start."""
    from .render import extract_variables

    spec: Mapping[str, Any] = {"content": fallback} if isinstance(fallback, str) else fallback
    content = spec["content"]
    return Prompt(
        name=name,
        environment=None,
        version=0,
        version_id=None,
        content=content,
        content_hash=None,
        model=spec.get("model", "gpt-4o"),
        temperature=spec.get("temperature", 0),
        max_tokens=spec.get("max_tokens", 1000),
        variables=extract_variables(content),
        metadata=dict(spec.get("metadata") or {}),
        deployed_at=None,
        source="fallback",
    )
