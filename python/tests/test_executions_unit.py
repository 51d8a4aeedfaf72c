"""The execution logger against a scripted fake registry: batching, retries with
the same ids, refusals, the memory bound, and sending what is left at exit."""

from __future__ import annotations

import datetime
import math
import os
import re
import subprocess
import sys
import unittest
import uuid
from typing import List

from _support import FakeRegistry, eventually, free_port
from prompt_registry import RegistryError, RegistryUnreachableError
from prompt_registry._http import Http
from prompt_registry.executions import ExecutionLogger, execution_payload

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Payload(unittest.TestCase):
    def test_snake_case_fields_a_uuid4_id_and_an_iso_time(self) -> None:
        p = execution_payload({"prompt": "greet", "environment": "production", "latency_ms": 12.5, "input_tokens": 3, "response": None})
        self.assertEqual(set(p), {"id", "executed_at", "prompt", "environment", "latency_ms", "input_tokens"})
        self.assertEqual(uuid.UUID(p["id"]).version, 4)
        self.assertRegex(p["executed_at"], ISO_MS)
        self.assertEqual(p["latency_ms"], 13)  # Math.round: halves go up
        self.assertEqual(execution_payload({"latency_ms": 12.49})["latency_ms"], 12)

    def test_given_id_and_time_are_kept_and_times_are_utc(self) -> None:
        when = datetime.datetime(2026, 1, 31, 13, 0, 0, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
        p = execution_payload({"id": "5d0c3f8e-0000-4000-8000-000000000001", "executed_at": when})
        self.assertEqual(p["id"], "5d0c3f8e-0000-4000-8000-000000000001")
        self.assertEqual(p["executed_at"], "2026-01-31T12:00:00.123Z")


class LoggerWithFakeRegistry(unittest.TestCase):
    def setUp(self) -> None:
        self.fake = FakeRegistry()
        self.errors: List[BaseException] = []
        self.loggers: List[ExecutionLogger] = []

    def tearDown(self) -> None:
        for logger in self.loggers:
            logger.close(0)
        self.fake.close()

    def logger(self, url: str = "", **options: float) -> ExecutionLogger:
        logger = ExecutionLogger(Http(url or self.fake.url, "key", 2.0), self.errors.append, **options)  # type: ignore[arg-type]
        self.loggers.append(logger)
        return logger

    def test_sends_a_batch_when_it_is_full(self) -> None:
        logger = self.logger(batch_size=3, flush_interval=60)
        ids = [logger.log({"prompt": "p", "version": 1, "latency_ms": i}) for i in range(3)]
        eventually(lambda: logger.stats.sent == 3, "a full batch is sent without waiting for the interval")
        self.assertEqual(self.fake.ids(), [ids])

    def test_sends_on_the_interval(self) -> None:
        logger = self.logger(batch_size=100, flush_interval=0.1)
        execution_id = logger.log({"prompt": "p", "version": 1})
        eventually(lambda: logger.stats.sent == 1, "one execution is sent after the interval")
        self.assertEqual(self.fake.ids(), [[execution_id]])

    def test_retries_with_the_same_ids_after_failures(self) -> None:
        self.fake.script = [503, 503]
        logger = self.logger(batch_size=2, flush_interval=60, max_backoff=0.2)
        ids = [logger.log({"prompt": "p", "version": 1}) for _ in range(2)]
        eventually(lambda: logger.stats.sent == 2, "sent once the registry answers")
        self.assertEqual(self.fake.ids(), [ids, ids, ids])
        self.assertEqual(sum(isinstance(e, RegistryUnreachableError) for e in self.errors), 2)
        self.assertEqual(logger.stats.buffered, 0)

    def test_retries_when_rate_limited(self) -> None:
        self.fake.script = [429]
        logger = self.logger(batch_size=1, max_backoff=0.2)
        execution_id = logger.log({"prompt": "p", "version": 1})
        eventually(lambda: logger.stats.sent == 1, "sent after the 429")
        self.assertEqual(self.fake.ids(), [[execution_id], [execution_id]])

    def test_drops_and_counts_a_batch_the_registry_refuses(self) -> None:
        self.fake.script = [400]
        logger = self.logger(batch_size=1)
        logger.log({"prompt": "p", "version": 1, "status": "bogus"})
        eventually(lambda: logger.stats.rejected == 1, "the refused batch is counted")
        logger.log({"prompt": "p", "version": 1})
        eventually(lambda: logger.stats.sent == 1, "the next one is sent")
        self.assertEqual(len(self.fake.ids()), 2, "the refused batch is not retried")
        self.assertTrue(any(isinstance(e, RegistryError) and e.status == 400 for e in self.errors))

    def test_bounds_its_memory_dropping_the_oldest(self) -> None:
        dead = f"http://127.0.0.1:{free_port()}"
        logger = self.logger(dead, batch_size=2, max_buffer=3, flush_interval=60, max_backoff=60)
        ids = [logger.log({"prompt": "p", "version": 1}) for _ in range(5)]
        stats = logger.stats
        self.assertEqual((stats.dropped, stats.buffered, stats.sent), (2, 3, 0))
        self.assertEqual([i for i, _ in logger._buffer], ids[2:])

    def test_flush_waits_and_close_drops_later_executions(self) -> None:
        logger = self.logger(batch_size=100, flush_interval=60)
        logger.log({"prompt": "p", "version": 1})
        self.assertTrue(logger.flush(5))
        self.assertEqual(logger.stats.sent, 1)
        self.assertTrue(logger.close(1))
        logger.log({"prompt": "p", "version": 1})
        self.assertEqual(logger.stats.dropped, 1)
        self.assertEqual(len(self.fake.ids()), 1)

    def test_close_gives_up_after_its_timeout_when_the_registry_is_down(self) -> None:
        dead = f"http://127.0.0.1:{free_port()}"
        logger = self.logger(dead)
        logger.log({"prompt": "p", "version": 1})
        self.assertFalse(logger.close(0.3))
        self.assertEqual(logger.stats.buffered, 1)

    def test_never_raises_on_values_json_cannot_encode(self) -> None:
        logger = self.logger(batch_size=1)
        logger.log({"prompt": "p", "version": 1, "input_variables": {"when": datetime.date(2026, 1, 2), "tags": {"a"}, "x": math.nan, "o": object()}})
        eventually(lambda: logger.stats.sent == 1, "sent")
        sent = self.fake.bodies[0][0]["input_variables"]
        self.assertEqual((sent["when"], sent["tags"], sent["x"]), ("2026-01-02", ["a"], None))
        self.assertTrue(sent["o"].startswith("<object object"))

    def test_what_is_left_is_sent_when_the_interpreter_exits(self) -> None:
        script = (
            "import sys; sys.path.insert(0, sys.argv[2])\n"
            "from prompt_registry import PromptClient\n"
            "c = PromptClient(sys.argv[1], 'key', push=False, log_flush_interval=3600)\n"
            "print(c.log_execution(prompt='p', version=1))\n"
        )
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
        done = subprocess.run([sys.executable, "-c", script, self.fake.url, root], capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(self.fake.ids(), [[done.stdout.strip()]])


if __name__ == "__main__":
    unittest.main()
