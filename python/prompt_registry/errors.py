"""The errors the client raises, mirroring the TypeScript client's."""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = [
    "InvalidInputError",
    "PromptRegistryError",
    "RegistryError",
    "PromptNotFoundError",
    "RegistryUnreachableError",
    "TemplateError",
]


class PromptRegistryError(Exception):
    """Base class of every error this package raises."""


class RegistryError(PromptRegistryError):
    """An error answer from the registry, with its status, stable code, message and details.

    ``details`` holds the other fields of the server's ``{"error": {...}}``
    object (``request_id``, ``issues``, ``required_scope``, ...).
    """

    def __init__(self, status: int, code: str, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class PromptNotFoundError(RegistryError):
    """The prompt does not exist, or nothing of it is deployed in the environment asked for.

    ``code`` is ``prompt_not_found``, ``not_deployed`` or ``version_not_found``.
    """


class RegistryUnreachableError(PromptRegistryError):
    """The registry could not be reached (connection error, timeout or a 5xx) and nothing could stand in."""

    def __init__(self, message: str, cause: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause


class TemplateError(PromptRegistryError):
    """A template that cannot be parsed or rendered, with the server's codes.

    ``code`` is one of ``template_syntax_error`` and ``template_unsupported``
    (``details`` has ``line`` and ``column``), ``missing_variable`` and
    ``invalid_variable`` (``details`` has ``variable``: the expression as
    written, e.g. ``user.name`` or ``lookup labels code``), or
    ``template_too_large`` and ``render_too_large`` (``details`` has ``limit``:
    ``size``, ``tags`` or ``depth`` when compiling, ``iterations``, ``output``
    or ``time`` when rendering; and ``max``: that limit's value, also as
    ``.limit`` and ``.max``).
    """

    def __init__(self, code: str, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})

    @property
    def limit(self) -> Optional[str]:
        """Which limit ran out (``template_too_large``, ``render_too_large``), else None."""
        return self.details.get("limit")

    @property
    def max(self) -> Optional[float]:
        """The value of the limit that ran out, else None."""
        return self.details.get("max")

    def __repr__(self) -> str:
        return f"TemplateError(code={self.code!r}, message={self.message!r}, details={self.details!r})"


class InvalidInputError(PromptRegistryError):
    """Render input the prompt refuses, found before rendering.

    ``code`` is ``invalid_variables`` (against its input schema),
    ``invalid_placeholders`` (a message that is not ``{role, content}``) or
    ``unknown_placeholder``; ``field`` names it as the registry does
    (``variables.age``, ``placeholders.history[1].role``) and the message starts with it.
    """

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"InvalidInputError(code={self.code!r}, field={self.field!r}, message={self.message!r})"
