"""Execution logging against a real registry, once per database: what is logged
arrives with its fields, and logs sent while the registry restarts arrive once each."""

from __future__ import annotations

import threading
import time
import unittest
from typing import Any, Dict, List, Optional

from _support import PerDatabase, ADMIN_KEY, RegistryServer, eventually, per_database, sibling_database, unique
from prompt_registry import PromptClient, RenderedPrompt

PRICING = {"gpt-4o": {"input_per_million": 2.5, "output_per_million": 10.0}}


class ExecutionLogTests(PerDatabase):
    database_url: str

    def setUp(self) -> None:
        self.server = RegistryServer(sibling_database(self.database_url, "executions")).start()
        self.clients: List[PromptClient] = []

    def tearDown(self) -> None:
        for client in self.clients:
            client.close(0.5)
        self.server.stop()

    def client(self, **options: Any) -> PromptClient:
        client = PromptClient(self.server.url, ADMIN_KEY, push=False, **options)
        self.clients.append(client)
        return client

    def prompt(self, prefix: str) -> str:
        name = unique(prefix)
        self.server.publish(name, "Summarise {{text}}")
        self.server.deploy(name, 1)
        return name

    def executions(self, name: str) -> List[Dict[str, Any]]:
        items: List[Dict[str, Any]] = []
        cursor: Optional[str] = None
        while True:
            path = f"/executions?prompt={name}&limit=100" + (f"&cursor={cursor}" if cursor else "")
            status, page = self.server.call("GET", path)
            assert status == 200, page
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def detail(self, execution_id: str) -> Dict[str, Any]:
        status, body = self.server.call("GET", f"/executions/{execution_id}")
        assert status == 200, body
        return body

    def test_logged_executions_arrive_with_their_fields(self) -> None:
        name = self.prompt("logged")
        c = self.client(log_batch_size=10, log_flush_interval=0.1)
        p = c.get(name)
        first = c.log_execution(
            prompt_version_id=p.version_id,
            environment="production",
            input_variables={"text": "a report"},
            rendered_prompt="Summarise a report",
            response="A summary.",
            input_tokens=12,
            output_tokens=4,
            latency_ms=250.4,
            cost_usd=0.001,
            quality_score=0.8,
            metadata={"user": "u1"},
        )
        second = c.log_execution(prompt=name, version=1, status="error", error="timeout")
        self.assertTrue(c.flush(10))
        self.assertEqual(c.logging_stats.sent, 2)
        got = self.detail(first)
        self.assertEqual(got["prompt_version_id"], p.version_id)
        self.assertEqual((got["prompt"], got["version"], got["environment"]), (name, 1, "production"))
        self.assertEqual((got["input_tokens"], got["output_tokens"], got["latency_ms"], got["status"]), (12, 4, 250, "ok"))
        self.assertEqual((got["response"], got["input_variables"], got["metadata"]), ("A summary.", {"text": "a report"}, {"user": "u1"}))
        self.assertAlmostEqual(got["cost_usd"], 0.001)
        self.assertEqual((self.detail(second)["status"], self.detail(second)["error"]), ("error", "timeout"))

    def test_execute_times_the_call_and_logs_tokens_cost_and_errors(self) -> None:
        name = self.prompt("executed")
        c = self.client(pricing=PRICING)
        seen: List[RenderedPrompt] = []

        def llm(rendered: RenderedPrompt) -> Dict[str, Any]:
            seen.append(rendered)
            time.sleep(0.02)
            return {"text": "short", "usage": (1000, 500)}

        result = c.execute(
            name,
            {"text": "the news"},
            llm,
            extract=lambda r: {"response": r["text"], "input_tokens": r["usage"][0], "output_tokens": r["usage"][1], "metadata": {"finish": "stop"}},
            metadata={"run": 1},
        )
        self.assertEqual(result["text"], "short")
        self.assertEqual((seen[0].text, seen[0].prompt.name), ("Summarise the news", name))

        def failing(rendered: RenderedPrompt) -> str:
            raise ValueError("model overloaded")

        with self.assertRaises(ValueError):
            c.execute(name, {"text": "x"}, failing)
        self.assertTrue(c.flush(10))
        logged = {e["status"]: e for e in self.executions(name)}
        ok, error = self.detail(logged["ok"]["id"]), self.detail(logged["error"]["id"])
        self.assertAlmostEqual(ok["cost_usd"], (1000 * 2.5 + 500 * 10.0) / 1e6)
        self.assertGreaterEqual(ok["latency_ms"], 20)
        self.assertEqual((ok["response"], ok["rendered_prompt"], ok["input_variables"]), ("short", "Summarise the news", {"text": "the news"}))
        self.assertEqual(ok["metadata"], {"run": 1, "finish": "stop"})
        self.assertEqual((error["error"], error["rendered_prompt"]), ("model overloaded", "Summarise x"))

    def test_logs_sent_while_the_registry_restarts_arrive_once_each(self) -> None:
        name = self.prompt("restart")
        c = self.client(log_batch_size=10, log_flush_interval=0.05)
        version_id = c.get(name).version_id
        ids: List[str] = []

        def produce() -> None:
            for i in range(300):
                ids.append(c.log_execution(prompt_version_id=version_id, latency_ms=i))
                time.sleep(0.01)

        producer = threading.Thread(target=produce)
        producer.start()
        eventually(lambda: c.logging_stats.sent >= 50, "some batches are acknowledged before the crash", 10)
        self.server.kill()  # SIGKILL: a batch may be committed without its answer arriving
        self.server.restart()
        producer.join()
        # Send some again on purpose: the registry stores an id once.
        for execution_id in ids[:20]:
            c.log_execution(id=execution_id, prompt_version_id=version_id)
        self.assertTrue(c.flush(30), f"everything is sent: {c.logging_stats}")
        stats = c.logging_stats
        self.assertEqual((stats.dropped, stats.rejected, stats.buffered), (0, 0, 0))
        stored = [e["id"] for e in self.executions(name)]
        self.assertEqual(len(stored), 300, "each execution is stored once")
        self.assertEqual(set(stored), set(ids))

    def test_a_batch_the_registry_refuses_is_counted_not_retried(self) -> None:
        errors: List[BaseException] = []
        c = self.client(log_batch_size=1, on_error=errors.append)
        c.log_execution(prompt=unique("no-such-prompt"), version=1)
        eventually(lambda: c.logging_stats.rejected == 1, "the refused execution is counted", 10)
        self.assertEqual(c.logging_stats.sent, 0)
        self.assertTrue(any(getattr(e, "status", 0) // 100 == 4 for e in errors))


per_database(ExecutionLogTests)


if __name__ == "__main__":
    unittest.main()
