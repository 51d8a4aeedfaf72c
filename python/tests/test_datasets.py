"""Datasets, scores and experiments from application code, against a real registry once per database."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict

from _support import ADMIN_KEY, SharedRegistry, eventually, per_database, unique
from prompt_registry import PromptClient, RegistryError


class _Echo(BaseHTTPRequestHandler):
    """An OpenAI-compatible model that answers the prompt in upper case."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = str(body["messages"][0]["content"]).upper()
        answer = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


class DatasetTests(SharedRegistry):
    def client(self) -> PromptClient:
        c = PromptClient(self.server.url, ADMIN_KEY, push=False)
        self.clients.append(c)
        return c

    def test_datasets_items_from_executions_and_scores(self) -> None:
        c = self.client()
        name = unique("ds-prompt")
        self.server.publish(name, "Hi {{who}}")
        self.server.deploy(name, 1)
        dataset = unique("ds")
        created = c.create_dataset(dataset, description="greetings")
        self.assertEqual((created["name"], created["version"], created["item_count"]), (dataset, 0, 0))
        added = c.add_dataset_items(dataset, [{"input": {"who": "Ann"}, "expected": "Hi Ann"}, {"input": {"who": "Bo"}}])
        self.assertEqual(added, {"dataset": dataset, "version": 1, "added": 2, "item_count": 2})
        with self.assertRaises(RegistryError) as refused:
            c.add_dataset_items(dataset, [])
        self.assertEqual(refused.exception.status, 400)

        execution_id = c.log_execution(prompt=name, version=1, input_variables={"who": "Cy"}, response="Hi Cy!")
        self.assertTrue(c.flush(10))
        item = c.add_dataset_item_from_execution(dataset, execution_id)
        self.assertEqual(item["version"], 2)
        self.assertEqual((item["item"]["input"], item["item"]["expected"], item["item"]["source_execution_id"]), ({"who": "Cy"}, "Hi Cy!", execution_id))
        none = c.add_dataset_item_from_execution(dataset, execution_id, expected=None, metadata={"why": "no answer is right"})
        self.assertEqual((none["item"]["expected"], none["item"]["metadata"]["why"]), (None, "no answer is right"))

        metric = unique("polite")
        self.assertEqual(c.create_metric(metric, "numeric", min=0, max=1)["type"], "numeric")
        score = c.add_score(execution_id, metric, 0.5, comment="curt")
        self.assertEqual((score["metric"], score["value"], score["source"], score["comment"]), (metric, 0.5, "code", "curt"))
        c.add_score(execution_id, metric, 0.75, source="human")
        status, detail = self.server.call("GET", f"/executions/{execution_id}")
        self.assertEqual(status, 200)
        self.assertEqual(sorted((s["source"], s["value"]) for s in detail["scores"]), [("code", 0.5), ("human", 0.75)])
        with self.assertRaises(RegistryError) as out_of_range:
            c.add_score(execution_id, metric, 3)
        self.assertEqual(out_of_range.exception.status, 400)
        self.assertIn(metric, str(out_of_range.exception))

    def test_an_experiment_runs_to_completion(self) -> None:
        model = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        threading.Thread(target=model.serve_forever, daemon=True).start()
        self.addCleanup(model.server_close)
        self.addCleanup(model.shutdown)
        provider = unique("echo")
        status, body = self.server.call("POST", "/providers", {"name": provider, "kind": "openai", "base_url": f"http://127.0.0.1:{model.server_address[1]}/v1", "default_model": "echo-1"})
        self.assertEqual(status, 201, body)
        c = self.client()
        name = unique("shout")
        self.server.publish(name, "hi {{who}}")
        dataset = unique("shouts")
        c.create_dataset(dataset)
        c.add_dataset_items(dataset, [{"input": {"who": "ann"}, "expected": "HI ANN"}, {"input": {"who": "bo"}, "expected": "hi bo"}])
        started = c.create_experiment(name, [1], dataset, [{"type": "exact_match", "name": "exact"}], provider=provider, concurrency=2)
        self.assertEqual(started["status"], "queued")
        state: Dict[str, Any] = {}

        def completed() -> bool:
            state.update(c.get_experiment(started["id"]))
            return state["status"] == "completed"

        eventually(completed, "the experiment completed", timeout=60, interval=0.1)
        self.assertEqual(state["progress"], {"done": 2, "total": 2})
        self.assertEqual(state["aggregates"][0]["pass_rate"], 0.5)
        self.assertEqual(state["aggregates"][0]["mean_scores"], {"exact": 0.5})


per_database(DatasetTests)
