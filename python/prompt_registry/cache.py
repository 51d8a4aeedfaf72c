"""The prompt cache: a TTL with stale-while-revalidate and one refresh per prompt at a time."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Callable, Dict, Optional, Set, Tuple

from .errors import PromptNotFoundError
from .prompt import Prompt

__all__ = ["PromptCache", "CacheKey", "FALLBACK_RETRY", "FAILED_REFRESH_RETRY"]

#: (environment, prompt name)
CacheKey = Tuple[str, str]

#: How long a fallback served because the registry was unreachable is kept before asking again (s).
FALLBACK_RETRY = 5.0
#: After a failed refresh, how long the stale prompt is served before the next attempt (s).
FAILED_REFRESH_RETRY = 1.0

#: fetch(key, cached prompt, etag) -> (prompt, or None when the registry answered 304; the new ETag)
Fetch = Callable[[CacheKey, Optional[Prompt], Optional[str]], Tuple[Optional[Prompt], Optional[str]]]


class _Entry:
    __slots__ = ("prompt", "etag", "fresh_until")

    def __init__(self, prompt: Prompt, etag: Optional[str], fresh_until: float) -> None:
        self.prompt = prompt
        self.etag = etag
        self.fresh_until = fresh_until  # time.monotonic() after which the entry is stale


class PromptCache:
    """Prompts by key. ``lookup`` is the hot path: a dict read and a clock read;
    a stale entry is still answered while one background thread refreshes it
    with If-None-Match. ``load`` fetches in the caller's thread (concurrent
    callers share one request)."""

    def __init__(self, fetch: Fetch, ttl: float, report: Callable[[BaseException], None]) -> None:
        self._fetch = fetch
        self.ttl = float(ttl)
        self._report = report
        self._entries: Dict[CacheKey, _Entry] = {}
        self._inflight: Dict[CacheKey, "Future[Prompt]"] = {}
        self._again: Set[CacheKey] = set()
        self._lock = threading.Lock()

    def lookup(self, key: CacheKey) -> Optional[Prompt]:
        """The cached prompt (fresh or stale), or None; a stale one starts a background refresh."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry.fresh_until:
            self._refresh_in_background(key)
        return entry.prompt

    def load(self, key: CacheKey) -> Prompt:
        """Fetches now (or joins the fetch already running) and caches the answer."""
        future, owner = self._claim(key)
        if owner:
            self._complete(key, future)
        return future.result()

    def refresh_if_cached(self, key: CacheKey) -> None:
        """Refreshes a cached prompt in the background (after a deploy event); a
        refresh already running is followed by another, as it may predate the event."""
        if key not in self._entries:
            return
        with self._lock:
            if key in self._inflight:
                self._again.add(key)
                return
        self._refresh_in_background(key)

    def mark_all_stale(self) -> None:
        """Every cached prompt is refreshed on its next use (events may have been missed)."""
        for entry in list(self._entries.values()):
            entry.fresh_until = 0.0

    def put_fallback(self, key: CacheKey, prompt: Prompt) -> Prompt:
        """Serves a bundled or fallback prompt for a few seconds, then asks the registry again."""
        self._entries[key] = _Entry(prompt, None, time.monotonic() + min(self.ttl, FALLBACK_RETRY))
        return prompt

    def _claim(self, key: CacheKey) -> Tuple["Future[Prompt]", bool]:
        with self._lock:
            running = self._inflight.get(key)
            if running is not None:
                return running, False
            future: "Future[Prompt]" = Future()
            self._inflight[key] = future
            return future, True

    def _refresh_in_background(self, key: CacheKey) -> None:
        future, owner = self._claim(key)
        if owner:
            threading.Thread(target=self._complete, args=(key, future), name="prompt-registry-refresh", daemon=True).start()

    def _complete(self, key: CacheKey, future: "Future[Prompt]") -> None:
        cached = self._entries.get(key)
        etag = cached.etag if cached is not None and cached.prompt.source == "registry" else None
        try:
            prompt, new_etag = self._fetch(key, cached.prompt if cached is not None else None, etag)
            now = time.monotonic()
            if prompt is None:
                if cached is None:  # pragma: no cover - no ETag was sent, so no 304
                    raise RuntimeError("the registry answered 304 to a request without If-None-Match")
                cached.fresh_until = now + self.ttl
                prompt = cached.prompt
            else:
                self._entries[key] = _Entry(prompt, new_etag, now + self.ttl)
            future.set_result(prompt)
        except PromptNotFoundError as err:
            # No longer deployed there: stop serving it.
            self._entries.pop(key, None)
            future.set_exception(err)
        except BaseException as err:
            # Unreachable (or refused): keep serving what we have, and try again a little later.
            if cached is not None:
                cached.fresh_until = time.monotonic() + min(self.ttl, FAILED_REFRESH_RETRY)
                self._report(err)
            future.set_exception(err)
        finally:
            with self._lock:
                self._inflight.pop(key, None)
                again = key in self._again
                self._again.discard(key)
            if again:
                self._refresh_in_background(key)
