"""Benchmarks of the Python client, printed as JSON (`npm run bench:python`).

1. A cached ``get`` + ``render`` (warm cache, push off, long TTL) per call, in
   microseconds, against the seed client's approach in the same run (a dict
   lookup and a ``str.replace`` loop over the variables), and the ratio.
2. The time from a deploy to a running client seeing it: with push (the event
   stream) and with TTL polling (TTL 1 s), median over several deploys.

It starts its own registry on a temporary SQLite database, as the tests do.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from _support import ADMIN_KEY, RegistryServer  # noqa: E402
from prompt_registry import PromptClient  # noqa: E402

TEMPLATE = "You help customers of {{company}}. Answer {{name}} briefly and kindly: {{question}}"
VARIABLES = {"company": "Acme", "name": "Ann", "question": "Where is my order?"}
ROUNDS = 7
CALLS = 50_000
DEPLOYS = 7


class SeedClient:
    """The seed's PromptClient.get_and_render, with its cache already filled (no request)."""

    def __init__(self, cache: Dict[str, Any]) -> None:
        self._cache = cache

    def get_and_render(self, name: str, variables: dict, environment: str = "production") -> str:
        cache_key = f"{name}:{environment}"
        if cache_key not in self._cache:  # pragma: no cover - warm
            raise KeyError(cache_key)
        template = self._cache[cache_key]["content"]
        for var, value in variables.items():
            template = template.replace(f"{{{{{var}}}}}", str(value))
        return template


def per_call_us(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    for _ in range(CALLS):
        fn()
    return (time.perf_counter() - start) / CALLS * 1e6


def cached_calls(server: RegistryServer, name: str) -> Dict[str, Any]:
    client = PromptClient(server.url, ADMIN_KEY, push=False, cache_ttl=3600)
    seed = SeedClient({f"{name}:production": {"content": TEMPLATE}})
    expected = seed.get_and_render(name, VARIABLES)
    assert client.render(name, VARIABLES) == expected  # warm, and the same text
    rounds: Dict[str, List[float]] = {"client": [], "seed": [], "get": [], "render": []}
    prompt = client.get(name)
    for _ in range(ROUNDS):
        rounds["client"].append(per_call_us(lambda: client.render(name, VARIABLES)))
        rounds["seed"].append(per_call_us(lambda: seed.get_and_render(name, VARIABLES)))
        rounds["get"].append(per_call_us(lambda: client.get(name)))
        rounds["render"].append(per_call_us(lambda: prompt.render(VARIABLES)))
    client.close(0)
    med = {k: statistics.median(v) for k, v in rounds.items()}
    return {
        "variables": len(VARIABLES),
        "calls_per_round": CALLS,
        "rounds": ROUNDS,
        "client_get_render_us": round(med["client"], 3),
        "seed_baseline_us": round(med["seed"], 3),
        "ratio_client_to_seed": round(med["client"] / med["seed"], 2),
        "client_get_only_us": round(med["get"], 3),
        "client_render_only_us": round(med["render"], 3),
        "target_us": 30,
    }


def deploy_to_seen(server: RegistryServer, name: str, push: bool, ttl: float) -> Dict[str, Any]:
    client = PromptClient(server.url, ADMIN_KEY, push=push, cache_ttl=ttl)
    version = client.get(name).version
    if push and not client._connected.wait(10):
        raise RuntimeError("the event stream did not connect")
    rng = random.Random(1)
    delays: List[float] = []
    for _ in range(DEPLOYS):
        if not push:
            time.sleep(rng.uniform(0, ttl))  # deploy at a random point of the TTL
        target = 2 if version == 1 else 1
        started = time.perf_counter()
        server.deploy(name, target)
        while client.get(name).version != target:
            if time.perf_counter() - started > ttl + 10:
                raise RuntimeError("the client never saw the deploy")
            time.sleep(0.0005)
        delays.append((time.perf_counter() - started) * 1000)
        version = target
    client.close(0)
    return {
        "deploys": DEPLOYS,
        "median_ms": round(statistics.median(delays), 1),
        "min_ms": round(min(delays), 1),
        "max_ms": round(max(delays), 1),
        **({"ttl_s": ttl} if not push else {}),
        "measured_from": "the deploy request being sent",
    }


def main() -> None:
    folder = tempfile.mkdtemp(prefix="prompt-registry-bench-")
    server = RegistryServer(f"sqlite:{os.path.join(folder, 'registry.db')}").start()
    try:
        name = "bench-prompt"
        server.publish(name, TEMPLATE)
        server.publish(name, TEMPLATE + " ")
        server.deploy(name, 1)
        result = {
            "benchmark": "python client",
            "python": platform.python_version(),
            "database": "sqlite",
            "cached_get_and_render": cached_calls(server, name),
            "deploy_to_client_sees_it": {
                "push": deploy_to_seen(server, name, push=True, ttl=3600),
                "ttl_polling": deploy_to_seen(server, name, push=False, ttl=1.0),
            },
        }
        print(json.dumps(result, indent=2))
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
