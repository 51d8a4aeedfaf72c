"""``PromptClient``: fetch, cache, render and log prompts from a Prompt Registry."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar, Union

from ._http import Http, quote_segment
from .bundle import read_bundle
from .chat import RenderResult
from .cache import CacheKey, PromptCache
from .errors import RegistryUnreachableError
from .events import LIVE_CHANGE_EVENTS, EventSubscription, RegistryEvent
from .executions import ExecutionLogger, LoggerStats
from .limits import Limits, TemplateLimits, resolve_limits
from .rollouts import assign_variant
from .prompt import FallbackPrompt, Prompt, RenderedPrompt, prompt_from_fallback, prompt_from_resolved

__all__ = ["PromptClient"]

_log = logging.getLogger("prompt_registry")

T = TypeVar("T")

#: Prices per million tokens, by model: ``{"gpt-4o": {"input_per_million": 2.5, "output_per_million": 10}}``.
Pricing = Mapping[str, Mapping[str, float]]

_RESULT_FIELDS = ("response", "input_tokens", "output_tokens", "cost_usd", "quality_score")


#: "Not given", where None is a value (an expected output of null).
_UNSET: Any = object()


def _query(**params: Any) -> str:
    """A query string of the parameters given (``None`` left out)."""
    given = {k: v for k, v in params.items() if v is not None}
    return "?" + urllib.parse.urlencode(given) if given else ""


def _log_error(error: BaseException) -> None:
    _log.warning("prompt registry: %s", error)


class PromptClient:
    """Fetches prompts from a Prompt Registry and renders them, for applications.

    - Live prompts are cached for ``cache_ttl`` seconds; after that the cached
      prompt is served while one background refresh asks the registry with
      ``If-None-Match`` (a 304 keeps the same Prompt object). With ``push``
      (the default) the registry's event stream refreshes a prompt as soon as
      it is deployed or rolled back.
    - When the registry is unreachable (connection error, timeout, 5xx), the
      last known prompt is served; at a cold start, the prompt from
      ``bundle_path`` (a file written by ``prompt-registry export``) or from
      ``fallbacks`` (given in code), for at most 5 s before the registry is
      asked again; with neither, RegistryUnreachableError.
    - Rendering is strict, with the registry's template semantics: a missing
      variable raises TemplateError naming it. It is bounded by ``limits``
      (a TemplateLimits, or a dict of some of its fields over the defaults,
      e.g. ``{"timeout_ms": 500}``): a template over them raises
      TemplateError ``template_too_large`` or ``render_too_large``, so a
      hostile template from the registry cannot stall the application.
    - ``log_execution`` and ``execute`` send execution logs in batches from a
      background thread, and what is left is sent at exit.

    Errors in background work (refreshes, the event stream, sending logs) go
    to ``on_error`` (default: a warning on the ``prompt_registry`` logger).
    """

    def __init__(
        self,
        registry_url: str,
        api_key: str,
        cache_ttl: float = 60,
        environment: str = "production",
        timeout: float = 5.0,
        push: bool = True,
        fallbacks: Optional[Mapping[str, FallbackPrompt]] = None,
        bundle_path: Optional[Union[str, "os.PathLike[str]"]] = None,
        log_batch_size: int = 100,
        log_flush_interval: float = 2.0,
        log_max_buffer: int = 10_000,
        pricing: Optional[Pricing] = None,
        on_error: Optional[Callable[[BaseException], None]] = None,
        limits: Optional[Limits] = None,
    ) -> None:
        if not registry_url:
            raise ValueError("PromptClient needs the registry URL")
        if not api_key:
            raise ValueError("PromptClient needs an API key")
        self._http = Http(registry_url, api_key, timeout)
        self._environment = environment
        self._limits = resolve_limits(limits)
        self._on_error = on_error or _log_error
        self._cache = PromptCache(self._fetch, cache_ttl, self._report)
        self._versions: Dict[Tuple[str, int], Prompt] = {}
        # During rollouts: each candidate as served, by (environment, name, rollout id, candidate, weight).
        self._candidates: Dict[Tuple[str, str, str, int, int], Prompt] = {}
        self._fallbacks: Dict[str, FallbackPrompt] = dict(fallbacks or {})
        self._bundle_environment: Optional[str] = None
        self._bundle: Dict[str, Prompt] = {}
        if bundle_path is not None:
            self._bundle_environment, self._bundle = read_bundle(bundle_path)
        self._push = push
        self._events: Optional[EventSubscription] = None
        self._pricing: Dict[str, Mapping[str, float]] = dict(pricing or {})
        self._log_options = (log_batch_size, log_flush_interval, log_max_buffer)
        self._logger: Optional[ExecutionLogger] = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def registry_url(self) -> str:
        return self._http.base_url

    @property
    def limits(self) -> TemplateLimits:
        """The template limits ``render`` and ``execute`` use by default."""
        return self._limits

    @property
    def environment(self) -> str:
        """The environment ``get`` and ``render`` use by default."""
        return self._environment

    # -- prompts

    def get(self, name: str, environment: Optional[str] = None, version: Optional[int] = None, key: Optional[str] = None) -> Prompt:
        """The prompt live in an environment (default: the client's), or a given version.

        During a rollout, ``key`` (a user or session id) picks the variant, assigned
        here from the cached rollout the same way the registry does (the same key
        always gets the same variant); without it, the live version.

        Raises PromptNotFoundError when there is no such prompt or nothing of
        it is deployed there, RegistryUnreachableError when the registry can't
        be reached and no cached, bundled or fallback prompt can stand in.
        """
        if version is not None:
            return self._get_version(name, version)
        env = environment or self._environment
        prompt = self._cache.lookup((env, name))
        if prompt is None:
            self._subscribe()
            try:
                prompt = self._cache.load((env, name))
            except RegistryUnreachableError as err:
                return self._fallback(name, env, err)
        return prompt if key is None else self._variant(prompt, key)

    def render(
        self,
        name: str,
        variables: Mapping[str, Any],
        environment: Optional[str] = None,
        version: Optional[int] = None,
        limits: Optional[Limits] = None,
        key: Optional[str] = None,
    ) -> str:
        """Fetches (or takes from the cache) and renders a prompt strictly.

        Raises TemplateError (``missing_variable``, ``invalid_variable``)
        naming the variable that is missing or can't be printed, or
        (``template_too_large``, ``render_too_large``) naming the limit that
        ran out. ``limits`` (some fields, as a dict) override the client's.
        """
        return self.get(name, environment=environment, version=version, key=key).render(variables, self._limits if limits is None else resolve_limits(limits, self._limits))

    def render_full(
        self,
        name: str,
        variables: Mapping[str, Any],
        placeholders: Optional[Mapping[str, Any]] = None,
        environment: Optional[str] = None,
        version: Optional[int] = None,
        limits: Optional[Limits] = None,
        key: Optional[str] = None,
    ) -> RenderResult:
        """Fetches (or takes from the cache) and renders a text or chat prompt: ``text`` or
        ``messages`` (placeholders filled from ``placeholders``, partials expanded), with
        ``config`` and ``partials_used``.

        Raises InvalidInputError (``invalid_variables`` against the prompt's input schema,
        ``invalid_placeholders``, ``unknown_placeholder``, naming the field) or TemplateError.
        """
        prompt = self.get(name, environment=environment, version=version, key=key)
        return prompt.render_full(variables, placeholders, self._limits if limits is None else resolve_limits(limits, self._limits))

    def get_and_render(self, name: str, variables: dict, environment: str = "production") -> str:
        """The seed client's call, with its signature: ``render`` in ``environment`` (default production)."""
        return self.render(name, variables, environment=environment)

    # -- execution logs

    def log_execution(
        self,
        *,
        prompt_version_id: Optional[str] = None,
        prompt: Optional[str] = None,
        version: Optional[int] = None,
        environment: Optional[str] = None,
        input_variables: Optional[Mapping[str, Any]] = None,
        rendered_prompt: Optional[str] = None,
        messages: Optional[List[Mapping[str, Any]]] = None,
        partials_used: Optional[List[Mapping[str, Any]]] = None,
        response_messages: Optional[List[Mapping[str, Any]]] = None,
        tool_calls: Optional[List[Any]] = None,
        response: Optional[str] = None,
        input_tokens: Optional[int] = None,
        output_tokens: Optional[int] = None,
        latency_ms: Optional[float] = None,
        cost_usd: Optional[float] = None,
        quality_score: Optional[float] = None,
        status: Optional[str] = None,
        error: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        executed_at: Optional[Union[_dt.datetime, str]] = None,
        id: Optional[str] = None,
    ) -> str:
        """Queues an execution for the registry's log and answers its id at once.

        Name the version by ``prompt_version_id``, or by ``prompt`` with
        ``version`` or ``environment``. Never blocks and never raises: the
        execution is sent in the background (see ``logging_stats``).
        """
        fields = {
            "prompt_version_id": prompt_version_id,
            "prompt": prompt,
            "version": version,
            "environment": environment,
            "input_variables": input_variables,
            "rendered_prompt": rendered_prompt,
            "messages": messages,
            "partials_used": partials_used,
            "response_messages": response_messages,
            "tool_calls": tool_calls,
            "response": response,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "latency_ms": latency_ms,
            "cost_usd": cost_usd,
            "quality_score": quality_score,
            "status": status,
            "error": error,
            "metadata": metadata,
            "executed_at": executed_at,
            "id": id,
        }
        return self._execution_logger().log(fields)

    def execute(
        self,
        name: str,
        variables: Mapping[str, Any],
        call: Callable[[RenderedPrompt], T],
        environment: Optional[str] = None,
        extract: Optional[Callable[[T], Mapping[str, Any]]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        limits: Optional[Limits] = None,
        key: Optional[str] = None,
        placeholders: Optional[Mapping[str, Any]] = None,
    ) -> T:
        """Renders a prompt, runs ``call`` with it (an LLM call) and logs the execution.

        ``call`` gets a RenderedPrompt (``.text`` or ``.messages``, ``.config``
        and ``.prompt``; ``placeholders`` fill a chat prompt's). The latency
        is measured; ``extract(result)`` may return ``response``,
        ``input_tokens``, ``output_tokens``, ``cost_usd``, ``quality_score``
        and ``metadata``; without ``cost_usd`` the cost is computed from the
        tokens and ``pricing``. A call that raises is logged with status
        "error" and the exception is raised again. Prompts given in code as
        fallbacks have no version in the registry and are not logged.
        """
        prompt = self.get(name, environment=environment, key=key)
        if prompt.rollout is not None:
            # The variant that served, for per-variant statistics.
            metadata = {**(metadata or {}), "variant": prompt.variant or "live", "rollout_id": prompt.rollout["id"]}
        r = prompt.render_full(variables, placeholders, self._limits if limits is None else resolve_limits(limits, self._limits))
        base: Dict[str, Any] = {
            "prompt_version_id": prompt.version_id,
            "prompt": None if prompt.version_id else name,
            "environment": prompt.environment,
            "input_variables": variables,
            "rendered_prompt": r.text,
            "messages": r.messages,
            "partials_used": r.partials_used or None,
            "executed_at": _dt.datetime.now(_dt.timezone.utc),
        }
        started = time.perf_counter()
        try:
            result = call(RenderedPrompt(r.text, prompt, r.type, r.messages, r.config, r.partials_used))
        except Exception as err:
            if prompt.version_id:
                self.log_execution(
                    **base,
                    latency_ms=(time.perf_counter() - started) * 1000,
                    status="error",
                    error=str(err) or type(err).__name__,
                    metadata=metadata,
                )
            raise
        latency_ms = (time.perf_counter() - started) * 1000
        facts: Mapping[str, Any] = {}
        if extract is not None:
            try:
                facts = extract(result) or {}
            except Exception as err:  # the call worked: keep its result, log what we know
                self._report(err)
        if prompt.version_id:
            known = {k: facts.get(k) for k in _RESULT_FIELDS}
            if known["cost_usd"] is None:
                known["cost_usd"] = self._cost(prompt.model, known["input_tokens"], known["output_tokens"])
            merged = {**(metadata or {}), **(facts.get("metadata") or {})}
            self.log_execution(**base, **known, latency_ms=latency_ms, status="ok", metadata=merged or None)
        return result

    # -- datasets, scores and experiments (synchronous calls: they raise RegistryError on a refusal)

    def create_dataset(self, name: str, description: Optional[str] = None) -> Dict[str, Any]:
        """Creates an empty dataset (version 0) and answers it. Needs the write scope."""
        body: Dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        return self._http.request("POST", "/datasets", body).body

    def add_dataset_items(self, dataset: str, items: List[Mapping[str, Any]]) -> Dict[str, Any]:
        """Appends up to 1,000 items ``{"input": {...}, "expected": ..., "metadata": {...}}``
        as the dataset's next version, all or none; answers ``{dataset, version, added, item_count}``."""
        return self._http.request("POST", f"/datasets/{quote_segment(dataset)}/items", {"items": list(items)}).body

    def add_dataset_item_from_execution(
        self,
        dataset: str,
        execution_id: str,
        expected: Any = _UNSET,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Add to dataset: a logged execution's variables become the input and
        its response the expected output (unless ``expected`` is given, ``None``
        included). Needs write and executions:read. Answers the new version with
        the ``item``. An execution logged with ``log_execution`` is sent in the
        background: ``flush()`` first."""
        body: Dict[str, Any] = {}
        if expected is not _UNSET:
            body["expected"] = expected
        if metadata is not None:
            body["metadata"] = dict(metadata)
        path = f"/datasets/{quote_segment(dataset)}/items/from-execution/{quote_segment(execution_id)}"
        return self._http.request("POST", path, body).body

    def create_metric(
        self,
        name: str,
        type: str = "numeric",
        min: Optional[float] = None,
        max: Optional[float] = None,
        categories: Optional[List[str]] = None,
        description: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Defines a custom metric (``numeric``, ``boolean`` or ``categorical``) that scores are recorded under. Needs write."""
        fields = {"name": name, "type": type, "min": min, "max": max, "categories": categories, "description": description}
        return self._http.request("POST", "/metrics", {k: v for k, v in fields.items() if v is not None}).body

    def add_score(self, execution_id: str, metric: str, value: Union[float, bool, str], source: str = "code", comment: Optional[str] = None) -> Dict[str, Any]:
        """Scores a logged execution on a metric (``source``: ``human``, ``code``
        or ``llm``); the same source scoring the same metric again replaces its
        score. Needs write. An execution logged with ``log_execution`` is sent
        in the background: ``flush()`` first."""
        body: Dict[str, Any] = {"metric": metric, "value": value, "source": source}
        if comment is not None:
            body["comment"] = comment
        return self._http.request("POST", f"/executions/{quote_segment(execution_id)}/scores", body).body

    def create_experiment(
        self,
        prompt: str,
        versions: List[int],
        dataset: str,
        evaluators: List[Mapping[str, Any]],
        provider: Optional[str] = None,
        model: Optional[str] = None,
        concurrency: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Starts an experiment (the dataset against the versions, scored by the evaluators) in the background; answers it, queued. Needs run."""
        fields = {"prompt": prompt, "versions": list(versions), "dataset": dataset, "evaluators": [dict(e) for e in evaluators], "provider": provider, "model": model, "concurrency": concurrency}
        return self._http.request("POST", "/experiments", {k: v for k, v in fields.items() if v is not None}).body

    def get_experiment(self, experiment_id: str) -> Dict[str, Any]:
        """An experiment's status, progress and per-version aggregates."""
        return self._http.request("GET", f"/experiments/{quote_segment(experiment_id)}").body

    # -- webhooks (admin; docs/webhooks.md). Synchronous: they raise RegistryError on a refusal.

    def create_webhook(
        self,
        url: str,
        events: List[str],
        secret: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """Registers a webhook for ``events`` (names from ``WEBHOOK_EVENTS``, or ``"*"``); the answer
        holds its signing ``secret``, shown this once (give one, ``whsec_...``, to choose it)."""
        fields = {"url": url, "events": list(events), "secret": secret, "description": description, "enabled": enabled}
        return self._http.request("POST", "/webhooks", {k: v for k, v in fields.items() if v is not None}).body

    def list_webhooks(self, limit: Optional[int] = None, cursor: Optional[str] = None) -> Dict[str, Any]:
        """A page of webhooks ``{"items": [...], "next_cursor": ...}``, never their secrets."""
        return self._http.request("GET", "/webhooks" + _query(limit=limit, cursor=cursor)).body

    def get_webhook(self, webhook_id: str) -> Dict[str, Any]:
        return self._http.request("GET", f"/webhooks/{quote_segment(webhook_id)}").body

    def update_webhook(self, webhook_id: str, **changes: Any) -> Dict[str, Any]:
        """Changes ``url``, ``events``, ``description`` (``None`` clears it), ``enabled``, or gives a new ``secret``."""
        unknown = set(changes) - {"url", "events", "secret", "description", "enabled"}
        if unknown:
            raise TypeError(f"update_webhook() takes url, events, secret, description and enabled, not {', '.join(sorted(unknown))}")
        return self._http.request("PATCH", f"/webhooks/{quote_segment(webhook_id)}", changes).body

    def delete_webhook(self, webhook_id: str) -> Dict[str, Any]:
        """Deletes a webhook and its delivery log; answers the webhook deleted."""
        return self._http.request("DELETE", f"/webhooks/{quote_segment(webhook_id)}").body

    def webhook_deliveries(self, webhook_id: str, status: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> Dict[str, Any]:
        """A webhook's delivery log, newest first (``status``: ``pending``, ``succeeded`` or ``failed``),
        each delivery with its ``attempts`` (status code, duration, error, next attempt)."""
        path = f"/webhooks/{quote_segment(webhook_id)}/deliveries" + _query(status=status, limit=limit, cursor=cursor)
        return self._http.request("GET", path).body

    def redeliver_webhook(self, webhook_id: str, delivery_id: str) -> Dict[str, Any]:
        """Sends a delivery again now, with the same ``webhook-id``; answers the delivery, pending."""
        path = f"/webhooks/{quote_segment(webhook_id)}/deliveries/{quote_segment(delivery_id)}/redeliver"
        return self._http.request("POST", path, {}).body


    @property
    def logging_stats(self) -> LoggerStats:
        """Execution-log counters: sent, dropped, rejected, buffered."""
        return self._logger.stats if self._logger is not None else LoggerStats()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends buffered execution logs now; True when the buffer is empty."""
        return self._logger.flush(timeout) if self._logger is not None else True

    def close(self, timeout: float = 5.0) -> None:
        """Sends what is buffered (retrying for up to ``timeout`` seconds) and stops the event stream."""
        with self._lock:
            self._closed = True
            events, self._events = self._events, None
        if events is not None:
            events.close()
        if self._logger is not None:
            self._logger.close(timeout)
        self._http.close()

    def __enter__(self) -> "PromptClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals

    def _report(self, error: BaseException) -> None:
        try:
            self._on_error(error)
        except Exception:
            pass

    def _cost(self, model: str, input_tokens: Optional[int], output_tokens: Optional[int]) -> Optional[float]:
        """The cost from token counts and ``pricing`` (per million tokens), or None."""
        price = self._pricing.get(model)
        if price is None or (input_tokens is None and output_tokens is None):
            return None
        return ((input_tokens or 0) * float(price.get("input_per_million", 0)) + (output_tokens or 0) * float(price.get("output_per_million", 0))) / 1_000_000

    def _fetch(self, key: CacheKey, cached: Optional[Prompt], etag: Optional[str]) -> Tuple[Optional[Prompt], Optional[str]]:
        """One resolve request: (prompt or None for 304, its ETag)."""
        environment, name = key
        path = f"/prompts/{quote_segment(name)}/latest?environment={quote_segment(environment)}"
        answer = self._http.request("GET", path, etag=etag)
        if answer.status == 304:
            return None, answer.etag
        prompt = prompt_from_resolved(name, environment, answer.body, "registry")
        if prompt.rollout is not None:
            # Fetched now, so keys assigned the candidate need no round trip later.
            try:
                self._get_version(name, int(prompt.rollout["candidate"]))
            except Exception as err:  # the live prompt is still good; the candidate is fetched when asked for
                self._report(err)
        return prompt, answer.etag

    def _variant(self, prompt: Prompt, key: str) -> Prompt:
        """The variant that serves ``key`` during the prompt's rollout: the live prompt, or the candidate."""
        rollout = prompt.rollout
        if rollout is None or prompt.environment is None or assign_variant(prompt.name, prompt.environment, rollout, key) == "live":
            return prompt
        slot = (prompt.environment, prompt.name, str(rollout["id"]), int(rollout["candidate"]), int(rollout["weight"]))
        found = self._candidates.get(slot)
        if found is None:
            try:
                version = self._get_version(prompt.name, int(rollout["candidate"]))
            except Exception as err:  # serve the live version (what an abort would do); try again next time
                self._report(err)
                return prompt
            found = self._candidates.setdefault(slot, dataclasses.replace(version, environment=prompt.environment, variant="candidate", rollout=dict(rollout)))
        return found

    def _fallback(self, name: str, environment: str, err: RegistryUnreachableError) -> Prompt:
        prompt: Optional[Prompt] = None
        if self._bundle_environment == environment:
            prompt = self._bundle.get(name)
        if prompt is None and name in self._fallbacks:
            prompt = prompt_from_fallback(name, self._fallbacks[name])
        if prompt is None:
            raise RegistryUnreachableError(
                f'{err.message}; no cached, bundled or fallback prompt "{name}" for {environment}', err.cause or err
            ) from err
        self._report(err)
        return self._cache.put_fallback((environment, name), prompt)

    def _get_version(self, name: str, version: int) -> Prompt:
        """Versions never change, so they are cached for good (failures are not)."""
        key = (name, version)
        found = self._versions.get(key)
        if found is None:
            answer = self._http.request("GET", f"/prompts/{quote_segment(name)}/versions/{int(version)}")
            body = dict(answer.body)
            body["version_number"] = body.get("version")
            body["deployed_at"] = None
            found = self._versions.setdefault(key, prompt_from_resolved(name, None, body, "registry"))
        return found

    def _execution_logger(self) -> ExecutionLogger:
        logger = self._logger
        if logger is None:
            with self._lock:
                if self._logger is None:
                    batch_size, interval, max_buffer = self._log_options
                    self._logger = ExecutionLogger(self._http, self._report, batch_size, interval, max_buffer)
                    if self._closed:
                        self._logger.close(0)
                logger = self._logger
        return logger

    def _subscribe(self) -> None:
        if not self._push or self._events is not None:
            return
        with self._lock:
            if self._events is None and not self._closed:
                self._events = EventSubscription(self._http, self._on_event, self._cache.mark_all_stale, self._report)

    def _on_event(self, event: RegistryEvent) -> None:
        if event.get("type") not in LIVE_CHANGE_EVENTS:
            return
        prompt, environment = event.get("prompt"), event.get("environment")
        if isinstance(prompt, str) and isinstance(environment, str):
            self._cache.refresh_if_cached((environment, prompt))

    @property
    def _connected(self) -> threading.Event:
        """Set once the event stream is connected (for tests and benchmarks)."""
        return self._events.connected if self._events is not None else threading.Event()
