"""Rollouts in the Python client: local assignment, the same as the registry's, and push."""

from __future__ import annotations

import json
import os
import unittest
from typing import Any, Dict, List, Optional

from _support import ADMIN_KEY, REPO, SharedRegistry, eventually, per_database, unique
from prompt_registry import PromptClient, assign_variant, rollout_bucket

with open(os.path.join(REPO, "test", "vectors", "rollout-assignment.json"), encoding="utf-8") as _f:
    VECTORS: List[Dict[str, Any]] = json.load(_f)["cases"]

PUSH_WAIT = 5.0


class AssignmentVectorTests(unittest.TestCase):
    def test_matches_every_shared_vector(self) -> None:
        self.assertGreaterEqual(len(VECTORS), 300)
        for v in VECTORS:
            rollout = {"id": v["rollout_id"], "weight": v["weight"]}
            self.assertEqual(rollout_bucket(v["prompt"], v["environment"], v["rollout_id"], v["key"]), v["bucket"], v)
            self.assertEqual(assign_variant(v["prompt"], v["environment"], rollout, v["key"]), v["variant"], v)

    def test_a_10_90_split_over_10000_keys_is_10_percent_give_or_take_1_5(self) -> None:
        rollout = {"id": "a5d0c3f2-3c1e-4b7a-9f0e-2d4c6b8a1e3f", "weight": 10}
        candidate = sum(1 for i in range(10_000) if assign_variant("checkout", "production", rollout, f"user-{i}") == "candidate")
        self.assertTrue(850 <= candidate <= 1150, candidate)


class RolloutClientTests(SharedRegistry):
    def client(self, **options: Any) -> PromptClient:
        client = PromptClient(self.server.url, ADMIN_KEY, **options)
        self.clients.append(client)
        return client

    def start(self, weight: int) -> str:
        name = unique("ab")
        self.server.publish(name, "live {{x}}")
        self.server.publish(name, "candidate {{x}}")
        self.server.deploy(name, 1)
        status, body = self.server.call("PUT", f"/prompts/{name}/rollouts/production", {"candidate": 2, "weight": weight})
        self.assertEqual(status, 201, body)
        return name

    def test_assigns_every_key_locally_as_the_registry_does(self) -> None:
        name = self.start(30)
        c = self.client(push=False, cache_ttl=3600)
        live = c.get(name)
        self.assertEqual(live.variant, "live")
        self.assertEqual(live.rollout and live.rollout["weight"], 30)
        keys = [v["key"] for v in VECTORS[:200]]
        expected = {k: self.server.call("GET", f"/prompts/{name}/latest?key={_quote(k)}")[1]["variant"] for k in keys}
        requests: List[str] = []
        real = c._http.request

        def counting(method: str, path: str, **kw: Any) -> Any:
            requests.append(path)
            return real(method, path, **kw)

        c._http.request = counting  # type: ignore[method-assign]
        for k in keys:
            p = c.get(name, key=k)
            self.assertEqual(p.variant, expected[k], k)
            self.assertEqual(p.version, 2 if expected[k] == "candidate" else 1)
            self.assertIs(c.get(name, key=k), p, "the same key, the same variant (and object)")
        self.assertEqual(requests, [], "no request per key")
        self.assertIn("candidate", expected.values())
        self.assertIn("live", expected.values())

    def test_logs_the_variant_with_each_execution(self) -> None:
        name = self.start(50)
        c = self.client(push=False, log_flush_interval=0.05)
        key = next(v["key"] for v in VECTORS)
        served = c.get(name, key=key)
        c.execute(name, {"x": "1"}, lambda rendered: rendered.text, key=key, extract=lambda text: {"response": text})
        self.assertTrue(c.flush(5))
        items = self.server.call("GET", f"/executions?prompt={name}")[1]["items"]
        self.assertEqual(len(items), 1)
        self.assertEqual(items[0]["version"], served.version)
        self.assertEqual(items[0]["metadata"]["variant"], served.variant)
        self.assertEqual(items[0]["metadata"]["rollout_id"], served.rollout and served.rollout["id"])

    def test_push_brings_a_weight_change_and_an_abort(self) -> None:
        name = self.start(10)
        c = self.client(cache_ttl=3600)
        self.assertEqual(_weight(c.get(name).rollout), 10)
        self.assertTrue(c._connected.wait(PUSH_WAIT), "the event stream connects")
        status, _ = self.server.call("PUT", f"/prompts/{name}/rollouts/production", {"candidate": 2, "weight": 60})
        self.assertEqual(status, 200)
        eventually(lambda: _weight(c.get(name).rollout) == 60, "the client sees the new weight", PUSH_WAIT)
        key = next(v["key"] for v in VECTORS if c.get(name, key=v["key"]).variant == "candidate")
        status, _ = self.server.call("POST", f"/prompts/{name}/rollouts/production/abort", {"reason": "done"})
        self.assertEqual(status, 200)
        eventually(lambda: c.get(name).rollout is None, "the client sees the abort", PUSH_WAIT)
        self.assertEqual(c.get(name, key=key).version, 1)


def _weight(rollout: Optional[Dict[str, Any]]) -> Optional[int]:
    return None if rollout is None else int(rollout["weight"])


def _quote(key: str) -> str:
    from urllib.parse import quote

    return quote(key, safe="")


per_database(RolloutClientTests)


if __name__ == "__main__":
    unittest.main()
