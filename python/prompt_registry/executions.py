"""Execution logging: batches sent to ``POST /executions`` from a background thread."""

from __future__ import annotations

import atexit
import datetime as _dt
import decimal
import json
import math
import random
import threading
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Tuple, Union

from ._http import Http
from .errors import RegistryError

__all__ = ["ExecutionLogger", "LoggerStats", "execution_payload"]

# The fields of one execution, in the order client/executions.ts writes them.
_FIELDS = (
    "prompt_version_id",
    "prompt",
    "version",
    "environment",
    "input_variables",
    "rendered_prompt",
    "messages",
    "partials_used",
    "response_messages",
    "tool_calls",
    "response",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "cost_usd",
    "quality_score",
    "status",
    "error",
    "metadata",
)


@dataclass(frozen=True)
class LoggerStats:
    """Execution-log counters."""

    #: Acknowledged by the registry.
    sent: int = 0
    #: Dropped because the buffer was full (oldest first), or logged after close().
    dropped: int = 0
    #: Refused by the registry as invalid (a 4xx other than 408/429): not retried.
    rejected: int = 0
    #: Waiting to be sent.
    buffered: int = 0


def iso_time(value: Union[_dt.datetime, str, None]) -> str:
    """An ISO-8601 UTC time with milliseconds (JavaScript's toISOString); a naive datetime counts as UTC."""
    if value is None:
        value = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    value = value.astimezone(_dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def execution_payload(fields: Mapping[str, Any]) -> Dict[str, Any]:
    """One execution as ``POST /executions`` takes it: snake_case fields, a client
    generated ``id`` (so a retry never stores it twice) and ``executed_at``;
    fields that are None are left out."""
    payload: Dict[str, Any] = {
        "id": fields.get("id") or str(uuid.uuid4()),
        "executed_at": iso_time(fields.get("executed_at")),
    }
    for name in _FIELDS:
        value = fields.get(name)
        if value is None:
            continue
        if name == "latency_ms":
            value = int(math.floor(float(value) + 0.5))  # Math.round
        payload[name] = value
    return payload


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(payload: Mapping[str, Any]) -> str:
    """Encodes a payload; anything json can't encode is turned into text, never an error."""
    try:
        return json.dumps(payload, separators=(",", ":"), allow_nan=False, default=_json_default)
    except ValueError:
        return json.dumps(_finite(json.loads(json.dumps(payload, default=_json_default))), separators=(",", ":"), allow_nan=False)


_LOGGERS: "weakref.WeakSet[ExecutionLogger]" = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    # Send what is left when the interpreter exits (each logger waits up to its exit timeout).
    for logger in list(_LOGGERS):
        try:
            logger.close(logger.exit_timeout)
        except Exception:
            pass


class ExecutionLogger:
    """Buffers executions and sends them to ``POST /executions`` in batches, on
    size or on an interval, from a daemon thread. Never blocks or raises at
    the caller: a failed send is retried with exponential backoff and jitter
    (the same ids, so the registry stores each execution once); a batch the
    registry refuses as invalid is dropped and counted; when the buffer is
    full the oldest executions are dropped and counted.
    """

    def __init__(
        self,
        http: Http,
        on_error: Callable[[BaseException], None],
        batch_size: int = 100,
        flush_interval: float = 2.0,
        max_buffer: int = 10_000,
        max_backoff: float = 30.0,
        exit_timeout: float = 5.0,
    ) -> None:
        self._http = http
        self._on_error = on_error
        self.batch_size = max(1, min(int(batch_size), 1000))
        self.flush_interval = max(0.0, float(flush_interval))
        self.max_buffer = max(self.batch_size, int(max_buffer))
        self.max_backoff = float(max_backoff)
        self.exit_timeout = float(exit_timeout)
        self._buffer: Deque[Tuple[str, str]] = deque()  # (id, encoded JSON)
        self._cond = threading.Condition()
        self._send_at: Optional[float] = None  # when the thread sends next (monotonic)
        self._failures = 0
        self._attempts = 0  # sends tried (flush() waits for one to fail or the buffer to empty)
        self._sending = False
        self._closed = False
        self._stopped = False
        self._sent = self._dropped = self._rejected = 0
        self._thread: Optional[threading.Thread] = None
        _LOGGERS.add(self)

    @property
    def stats(self) -> LoggerStats:
        with self._cond:
            return LoggerStats(self._sent, self._dropped, self._rejected, len(self._buffer))

    def log(self, fields: Mapping[str, Any]) -> str:
        """Queues an execution and answers its id at once."""
        try:
            payload = execution_payload(fields)
            execution_id = str(payload["id"])
            encoded = to_json(payload)
        except Exception as err:  # a value we can't encode: count it, never raise
            self._report(err)
            with self._cond:
                self._dropped += 1
            return str(fields.get("id") or uuid.uuid4())
        with self._cond:
            if self._closed:
                self._dropped += 1
                return execution_id
            self._buffer.append((execution_id, encoded))
            excess = len(self._buffer) - self.max_buffer
            if excess > 0:
                for _ in range(excess):
                    self._buffer.popleft()
                self._dropped += excess
            now = time.monotonic()
            if len(self._buffer) >= self.batch_size and self._failures == 0:
                self._send_at = now
            elif self._send_at is None:
                self._send_at = now + self.flush_interval
            self._start()
            self._cond.notify_all()
        return execution_id

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prompt-registry-executions", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._http.close()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    if self._buffer and self._send_at is not None:
                        wait = self._send_at - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                batch = [item for _, item in zip(range(self.batch_size), self._buffer)]
                self._sending = True
            ok = self._send(batch)
            with self._cond:
                self._sending = False
                self._attempts += 1
                if ok:
                    self._send_at = time.monotonic() if self._buffer else None
                else:
                    self._failures += 1
                    backoff = min(self.max_backoff, 0.1 * 2 ** min(self._failures, 16))
                    self._send_at = time.monotonic() + backoff * (0.5 + random.random() / 2)
                self._cond.notify_all()

    def _send(self, batch: List[Tuple[str, str]]) -> bool:
        """Sends a batch; False when it should be tried again later."""
        body = "[" + ",".join(encoded for _, encoded in batch) + "]"
        try:
            self._http.request("POST", "/executions", body=body)
        except RegistryError as err:
            if 400 <= err.status < 500 and err.status not in (408, 429):
                # Invalid rows: sending them again can't help.
                self._remove(batch, rejected=True)
                self._report(err)
                return True
            self._report(err)
            return False
        except Exception as err:  # unreachable, timeout, 5xx
            self._report(err)
            return False
        self._remove(batch, rejected=False)
        return True

    def _remove(self, batch: List[Tuple[str, str]], rejected: bool) -> None:
        ids = {execution_id for execution_id, _ in batch}
        with self._cond:
            # Entries dropped meanwhile (buffer full) are simply gone.
            self._buffer = deque(item for item in self._buffer if item[0] not in ids)
            if rejected:
                self._rejected += len(batch)
            else:
                self._sent += len(batch)
                self._failures = 0

    def _report(self, err: BaseException) -> None:
        try:
            self._on_error(err)
        except Exception:
            pass

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything buffered now; returns when the buffer is empty (True),
        a send has failed, or ``timeout`` seconds have passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if not self._buffer:
                return True
            if self._stopped:
                return False
            self._start()
            attempts = self._attempts + (1 if self._sending else 0)
            self._send_at = time.monotonic()
            self._cond.notify_all()
            while self._buffer:
                failed = self._attempts > attempts and self._failures > 0
                if failed or self._stopped:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float = 5.0) -> bool:
        """Flushes, retrying for up to ``timeout`` seconds, then stops; later
        executions are dropped (counted). Returns whether everything was sent."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            remaining = deadline - time.monotonic()
            if self.flush(max(0.0, remaining)) or remaining <= 0:
                break
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        with self._cond:
            self._closed = True
            self._stopped = True
            empty = not self._buffer
            self._cond.notify_all()
        _LOGGERS.discard(self)
        return empty
