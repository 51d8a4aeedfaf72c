"""A rendered prompt as the request body of a provider's API, without its SDK.

``to_openai_chat`` (OpenAI Chat Completions), ``to_openai_responses`` (OpenAI
Responses) and ``to_anthropic_messages`` (Anthropic Messages) take a
``RenderResult`` (or ``RenderedPrompt``, or a dict with ``type``, ``text``,
``messages`` and ``config``) and answer the JSON body as a dict. A text prompt
is one user message. ``extra`` is merged in last (your own parameters, or
overrides such as ``model``). The TypeScript client's helpers give the same
bodies (``test/vectors/chat.json``); docs/clients.md says what maps to what.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Tuple

from .errors import PromptRegistryError

__all__ = ["ProviderFormatError", "to_openai_chat", "to_openai_responses", "to_anthropic_messages"]

Body = Dict[str, Any]


class ProviderFormatError(PromptRegistryError, ValueError):
    """A rendered prompt a provider's API cannot take as it is. ``code`` is
    ``missing_model``, ``missing_max_tokens`` or ``unsupported_message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _field(rendered: Any, name: str) -> Any:
    return rendered.get(name) if isinstance(rendered, Mapping) else getattr(rendered, name, None)


def _parts(rendered: Any) -> Tuple[List[Dict[str, str]], Dict[str, Any]]:
    messages = _field(rendered, "messages")
    config = dict(_field(rendered, "config") or {})
    if messages is None:
        return [{"role": "user", "content": _field(rendered, "text") or ""}], config
    return [{"role": m["role"], "content": m["content"]} for m in messages], copy.deepcopy(config)


def _pick(config: Mapping[str, Any], names: List[Tuple[str, str]]) -> Body:
    return {to: config[key] for key, to in names if config.get(key) is not None}


def _model(config: Mapping[str, Any], extra: Mapping[str, Any], api: str) -> str:
    model = extra.get("model") or config.get("model")
    if not model:
        raise ProviderFormatError("missing_model", f"{api} needs a model: the prompt's config has none; give one in extra")
    return str(model)


def _system_and_rest(messages: List[Dict[str, str]], api: str, tool_fault: str) -> Tuple[List[str], List[Dict[str, str]]]:
    system: List[str] = []
    rest: List[Dict[str, str]] = []
    for i, m in enumerate(messages):
        if m["role"] == "system":
            system.append(m["content"])
        elif m["role"] == "tool":
            raise ProviderFormatError("unsupported_message", f"messages[{i}]: {api} takes a tool result only with the id of its call ({tool_fault})")
        else:
            rest.append(m)
    return system, rest


def to_openai_chat(rendered: Any, extra: Optional[Mapping[str, Any]] = None) -> Body:
    """OpenAI Chat Completions (``POST /v1/chat/completions``): the messages as they are, the
    config's sampling parameters (``max_tokens`` as ``max_completion_tokens``), tools,
    tool_choice and response_format."""
    extra = dict(extra or {})
    messages, config = _parts(rendered)
    body: Body = {"model": _model(config, extra, "OpenAI Chat Completions"), "messages": messages}
    body.update(
        _pick(
            config,
            [
                ("temperature", "temperature"),
                ("top_p", "top_p"),
                ("max_tokens", "max_completion_tokens"),
                ("stop", "stop"),
                ("seed", "seed"),
                ("presence_penalty", "presence_penalty"),
                ("frequency_penalty", "frequency_penalty"),
                ("tools", "tools"),
                ("tool_choice", "tool_choice"),
                ("response_format", "response_format"),
            ],
        )
    )
    body.update(extra)
    return body


def to_openai_responses(rendered: Any, extra: Optional[Mapping[str, Any]] = None) -> Body:
    """OpenAI Responses (``POST /v1/responses``): system messages joined as ``instructions``,
    the others as ``input``; tools flattened to ``{type, name, description, parameters,
    strict}``; response_format as ``text.format``. Responses has no stop, seed or penalties."""
    extra = dict(extra or {})
    messages, config = _parts(rendered)
    system, rest = _system_and_rest(messages, "OpenAI Responses", "a function_call_output item")
    body: Body = {"model": _model(config, extra, "OpenAI Responses")}
    if system:
        body["instructions"] = "\n\n".join(system)
    body["input"] = rest
    body.update(_pick(config, [("temperature", "temperature"), ("top_p", "top_p"), ("max_tokens", "max_output_tokens")]))
    tools = config.get("tools")
    if tools:
        out = []
        for t in tools:
            fn = t["function"]
            tool: Body = {"type": "function", "name": fn["name"]}
            if fn.get("description") is not None:
                tool["description"] = fn["description"]
            tool["parameters"] = fn.get("parameters") or {"type": "object", "properties": {}}
            # Responses makes function tools strict unless told; Chat Completions does not.
            tool["strict"] = fn.get("strict", False)
            out.append(tool)
        body["tools"] = out
    choice = config.get("tool_choice")
    if choice is not None:
        body["tool_choice"] = choice if isinstance(choice, str) else {"type": "function", "name": choice["function"]["name"]}
    fmt = config.get("response_format")
    if fmt:
        if fmt.get("type") == "json_schema":
            js = fmt["json_schema"]
            spec: Body = {"type": "json_schema", "name": js["name"]}
            if js.get("description") is not None:
                spec["description"] = js["description"]
            spec["schema"] = js["schema"]
            if js.get("strict") is not None:
                spec["strict"] = js["strict"]
            body["text"] = {"format": spec}
        else:
            body["text"] = {"format": {"type": fmt["type"]}}
    body.update(extra)
    return body


def to_anthropic_messages(rendered: Any, extra: Optional[Mapping[str, Any]] = None) -> Body:
    """Anthropic Messages (``POST /v1/messages``): system messages joined as ``system``;
    consecutive messages of one role joined (blank line between) so user and assistant
    alternate; ``max_tokens`` required (the config's, or extra's); stop as ``stop_sequences``;
    tools as ``{name, description, input_schema}``; tool_choice auto/required/none/named as
    ``{type: auto/any/none/tool}``. Anthropic has no seed, penalties or response_format."""
    extra = dict(extra or {})
    messages, config = _parts(rendered)
    system, rest = _system_and_rest(messages, "Anthropic Messages", "a tool_result block")
    max_tokens = extra.get("max_tokens", config.get("max_tokens"))
    if max_tokens is None:
        raise ProviderFormatError("missing_max_tokens", "Anthropic Messages needs max_tokens: the prompt's config has none; give it in extra")
    merged: List[Dict[str, str]] = []
    for m in rest:
        if merged and merged[-1]["role"] == m["role"]:
            merged[-1]["content"] = f"{merged[-1]['content']}\n\n{m['content']}"
        else:
            merged.append(dict(m))
    body: Body = {"model": _model(config, extra, "Anthropic Messages"), "max_tokens": max_tokens}
    if system:
        body["system"] = "\n\n".join(system)
    body["messages"] = merged
    body.update(_pick(config, [("temperature", "temperature"), ("top_p", "top_p")]))
    stop = config.get("stop")
    if stop is not None:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = config.get("tools")
    if tools:
        out = []
        for t in tools:
            fn = t["function"]
            tool: Body = {"name": fn["name"]}
            if fn.get("description") is not None:
                tool["description"] = fn["description"]
            tool["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
            out.append(tool)
        body["tools"] = out
    choice = config.get("tool_choice")
    if choice is not None:
        if choice == "auto":
            body["tool_choice"] = {"type": "auto"}
        elif choice == "required":
            body["tool_choice"] = {"type": "any"}
        elif choice == "none":
            body["tool_choice"] = {"type": "none"}
        else:
            body["tool_choice"] = {"type": "tool", "name": choice["function"]["name"]}
    body.update(extra)
    return body
