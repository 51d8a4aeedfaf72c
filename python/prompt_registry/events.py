"""Push invalidation: the registry's ``GET /events`` stream (Server-Sent Events)."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any, Callable, Dict, Optional

from ._http import Http

__all__ = ["EventSubscription", "RegistryEvent", "REGISTRY_EVENTS", "LIVE_CHANGE_EVENTS", "WEBHOOK_EVENTS"]

#: An event as the registry sends it: ``{"type", "prompt", "environment", "version", "at"}``,
#: ``type`` one of REGISTRY_EVENTS.
RegistryEvent = Dict[str, Any]

# The lists of shared/contract/events.ts (tests/test_contract.py checks they match).
#: The event types of ``GET /events``.
REGISTRY_EVENTS = (
    "version.created",
    "deployment.created",
    "deployment.rolled_back",
    "prompt.updated",
    "deployment_request.created",
    "deployment_request.decided",
    "rollout.changed",
)
#: Events after which a cached resolve answer is stale.
LIVE_CHANGE_EVENTS = ("deployment.created", "deployment.rolled_back", "rollout.changed")
#: The event types a webhook can subscribe to (``*`` is every one).
WEBHOOK_EVENTS = (
    "version.created",
    "deployment.deployed",
    "deployment.rolled_back",
    "approval.requested",
    "approval.decided",
    "rollout.changed",
)

#: The last event of a stream whose credential stopped working (the key was
#: revoked or expired); the registry then ends the stream.
_CREDENTIAL_ENDS = ("credential_expired", "credential_revoked")

_FIRST_RETRY = 0.5
_MAX_RETRY = 30.0
# The server writes a comment every 15 s; silence for this long means the connection is dead.
_READ_TIMEOUT = 45.0


class EventStreamError(ConnectionError):
    """The event stream could not be opened or ended; it is retried with backoff."""


class EventSubscription:
    """Listens to the registry's event stream in a daemon thread and reconnects
    with backoff (0.5 s doubling to 30 s). After a reconnection ``on_resync``
    runs: events may have been missed while disconnected.
    """

    def __init__(
        self,
        http: Http,
        on_event: Callable[[RegistryEvent], None],
        on_resync: Callable[[], None],
        on_error: Callable[[BaseException], None],
        read_timeout: float = _READ_TIMEOUT,
    ) -> None:
        self._http = http
        self._on_event = on_event
        self._on_resync = on_resync
        self._on_error = on_error
        self._read_timeout = read_timeout
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        #: Set once the stream has connected (the first time).
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prompt-registry-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        retry = _FIRST_RETRY
        connected_before = False
        while not self._closed.is_set():
            error: BaseException
            conn = self._http.connect(self._read_timeout)
            try:
                conn.request("GET", self._http.prefix + "/events", headers=self._http.headers("text/event-stream"))
                with self._lock:
                    self._sock = conn.sock
                if self._closed.is_set():
                    return
                response = conn.getresponse()
                if response.status != 200:
                    response.read()
                    raise EventStreamError(f"the registry's event stream answered {response.status}")
                if connected_before:
                    self._on_resync()
                connected_before = True
                retry = _FIRST_RETRY
                self.connected.set()
                self._read(response)
                error = EventStreamError("the registry closed its event stream")
            except Exception as err:  # network errors, timeouts, a bad answer
                error = err
            finally:
                with self._lock:
                    self._sock = None
                conn.close()
            if self._closed.is_set():
                return
            self._report(error)
            if self._closed.wait(retry):
                return
            retry = min(retry * 2, _MAX_RETRY)

    def _read(self, response: Any) -> None:
        data: list = []
        name = ""
        while True:
            raw = response.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if data:
                    self._dispatch(name, "\n".join(data))
                data, name = [], ""
            elif line.startswith("data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(" ") else value)
            elif line.startswith("event:"):
                name = line[6:].strip()
            # id:, retry: and comments (": ping") need nothing

    def _dispatch(self, name: str, text: str) -> None:
        try:
            event = json.loads(text)
            if name in _CREDENTIAL_ENDS:
                # Not a change: why the registry ends the stream. Reconnecting (with backoff) follows.
                error = event.get("error") if isinstance(event, dict) else None
                message = error.get("message") if isinstance(error, dict) else None
                self._report(EventStreamError(f"the registry ended its event stream: {message or name}"))
            elif isinstance(event, dict):
                self._on_event(event)
        except Exception as err:
            self._report(err)

    def _report(self, error: BaseException) -> None:
        try:
            self._on_error(error)
        except Exception:
            pass

    def close(self) -> None:
        """Stops listening (at once: the open connection is shut down)."""
        self._closed.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
