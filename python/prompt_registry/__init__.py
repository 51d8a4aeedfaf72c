"""The Prompt Registry client for Python applications (standard library only).

>>> from prompt_registry import PromptClient
>>> client = PromptClient("http://127.0.0.1:8080", api_key)          # doctest: +SKIP
>>> client.get_and_render("support-reply", {"name": "Ann"})          # doctest: +SKIP

See ``PromptClient`` for caching, push updates, fallbacks and execution logging,
and ``prompt_registry.render`` for the template language.
"""

from __future__ import annotations

from .bundle import BUNDLE_FORMAT, BundleError, read_bundle
from .chat import CHAT_ROLES, ChatMessage, PartialUsed, PromptMessage, RenderResult
from .client import PromptClient
from .errors import InvalidInputError, PromptNotFoundError, PromptRegistryError, RegistryError, RegistryUnreachableError, TemplateError
from .events import WEBHOOK_EVENTS
from .executions import LoggerStats
from .limits import DEFAULT_LIMITS, TemplateLimits
from .prompt import FallbackPrompt, Prompt, RenderedPrompt
from .rollouts import assign_variant, rollout_bucket
from .providers import ProviderFormatError, to_anthropic_messages, to_openai_chat, to_openai_responses
from .render import MAX_PARTIAL_DEPTH, SUPPORTED_HELPERS, CompiledTemplate, compile_template, extract_variables, render

from ._version import __version__

import logging as _logging

_logging.getLogger("prompt_registry").addHandler(_logging.NullHandler())

__all__ = [
    "BUNDLE_FORMAT",
    "BundleError",
    "CHAT_ROLES",
    "ChatMessage",
    "CompiledTemplate",
    "DEFAULT_LIMITS",
    "FallbackPrompt",
    "InvalidInputError",
    "LoggerStats",
    "MAX_PARTIAL_DEPTH",
    "PartialUsed",
    "Prompt",
    "PromptMessage",
    "PromptClient",
    "PromptNotFoundError",
    "PromptRegistryError",
    "ProviderFormatError",
    "RegistryError",
    "RegistryUnreachableError",
    "RenderResult",
    "RenderedPrompt",
    "SUPPORTED_HELPERS",
    "TemplateError",
    "TemplateLimits",
    "WEBHOOK_EVENTS",
    "assign_variant",
    "compile_template",
    "extract_variables",
    "read_bundle",
    "render",
    "rollout_bucket",
    "to_anthropic_messages",
    "to_openai_chat",
    "to_openai_responses",
]
