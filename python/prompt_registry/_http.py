"""The registry's HTTP API: JSON in and out, its error shape turned into typed errors."""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
import threading
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union
from urllib.parse import quote, urlsplit

from ._version import __version__
from .errors import PromptNotFoundError, RegistryError, RegistryUnreachableError

__all__ = ["Answer", "Http", "quote_segment"]

USER_AGENT = f"prompt-registry-python/{__version__}"

_NOT_FOUND_CODES = frozenset(["prompt_not_found", "not_deployed", "version_not_found"])
# A kept-alive connection the server has closed meanwhile fails with one of
# these on reuse; the request is then sent again on a new connection.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


class Answer(NamedTuple):
    status: int
    body: Any
    etag: Optional[str]


def quote_segment(text: str) -> str:
    """A path segment, encoded as JavaScript's encodeURIComponent does."""
    return quote(text, safe="!~*'()")


class Http:
    """Sends JSON requests to the registry over a small pool of kept-alive connections (thread-safe)."""

    MAX_IDLE = 4

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the registry URL must be http:// or https://, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._idle: List[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def connect(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        """A new connection to the registry (also used for the event stream)."""
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def headers(self, accept: str = "application/json") -> Dict[str, str]:
        return {"X-API-Key": self.api_key, "Accept": accept, "User-Agent": USER_AGENT}

    def request(self, method: str, path: str, body: Union[bytes, str, None, Any] = None, etag: Optional[str] = None) -> Answer:
        """Sends a request; raises RegistryUnreachableError (network, timeout, 5xx) or RegistryError (4xx).

        ``body`` is sent as JSON: bytes or str as they are (already encoded),
        anything else through ``json.dumps``.
        """
        headers = self.headers()
        data: Optional[bytes] = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        if etag:
            headers["If-None-Match"] = etag
        status, raw, answer_etag = self._send(method, self.prefix + path, data, headers)
        if status == 304:
            return Answer(304, None, answer_etag)
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
        if status >= 500:
            raise RegistryUnreachableError(f"the prompt registry at {self.base_url} answered {status}")
        if status >= 400:
            raise _to_error(status, parsed)
        return Answer(status, parsed, answer_etag)

    def _send(self, method: str, path: str, data: Optional[bytes], headers: Dict[str, str]) -> Tuple[int, bytes, Optional[str]]:
        for attempt in (0, 1):
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = self.connect(self.timeout)
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except _STALE as err:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise self._unreachable(err) from err
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                raise self._unreachable(err) from err
            if response.will_close:
                conn.close()
            else:
                with self._lock:
                    if len(self._idle) < self.MAX_IDLE:
                        self._idle.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()
            return response.status, raw, response.getheader("ETag")
        raise AssertionError("unreachable")  # pragma: no cover

    def _unreachable(self, err: BaseException) -> RegistryUnreachableError:
        return RegistryUnreachableError(f"the prompt registry at {self.base_url} is unreachable: {describe(err, self.timeout)}", err)

    def close(self) -> None:
        """Closes the idle connections (a request later opens a new one)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def describe(err: BaseException, timeout: Optional[float] = None) -> str:
    """A short reason for a network failure, e.g. ``ECONNREFUSED`` or ``no answer within 5 s``."""
    if isinstance(err, socket.timeout) or isinstance(err, TimeoutError):
        return f"no answer within {timeout:g} s" if timeout is not None else "timed out"
    if isinstance(err, socket.gaierror):
        return f"cannot resolve the host name ({err.strerror})"
    code = getattr(err, "errno", None)
    if isinstance(code, int) and code in errno.errorcode:
        return errno.errorcode[code]
    if isinstance(err, http.client.RemoteDisconnected):
        return "the connection was closed without an answer"
    return str(err) or type(err).__name__


def _to_error(status: int, body: Any) -> RegistryError:
    found = body.get("error") if isinstance(body, dict) else None
    error: Dict[str, Any] = found if isinstance(found, dict) else {}
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str):
        code = "http_error"
    if not isinstance(message, str):
        message = f"the registry answered {status}"
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    if status == 404 and code in _NOT_FOUND_CODES:
        return PromptNotFoundError(status, code, message, details)
    return RegistryError(status, code, message, details)
