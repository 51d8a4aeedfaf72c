"""Webhook management from the Python client, against a real registry and receiver once per database."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List

from _support import ADMIN_KEY, RegistryServer, eventually, per_database, unique
from prompt_registry import WEBHOOK_EVENTS, PromptClient, RegistryError


class _Receiver(BaseHTTPRequestHandler):
    """Answers 500 to the first delivery and 200 after; records each webhook-id."""

    ids: List[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).ids.append(str(self.headers.get("webhook-id")))
        self.send_response(500 if len(type(self).ids) == 1 else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class WebhookTests:
    database_url: str

    @classmethod
    def setUpClass(cls) -> None:
        _Receiver.ids = []
        cls.receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        cls.receiver_url = f"http://127.0.0.1:{cls.receiver.server_address[1]}"
        env = {"PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "PROMPT_REGISTRY_WEBHOOK_RETRY_BASE_MS": "50"}
        cls.server = RegistryServer(cls.database_url, env=env).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        cls.receiver.shutdown()
        cls.receiver.server_close()

    def setUp(self) -> None:
        self.client = PromptClient(self.server.url, ADMIN_KEY, push=False)

    def tearDown(self) -> None:
        self.client.close(0.5)

    def test_create_list_get_update_delete(self) -> None:
        c = self.client
        self.assertIn("deployment.deployed", WEBHOOK_EVENTS)
        created = c.create_webhook(f"{self.receiver_url}/crud", ["version.created"], description="ops")
        self.assertTrue(created["secret"].startswith("whsec_"))
        self.assertEqual((created["events"], created["description"], created["enabled"]), (["version.created"], "ops", True))
        listed = c.list_webhooks(limit=100)
        mine = [w for w in listed["items"] if w["id"] == created["id"]]
        self.assertEqual(len(mine), 1)
        self.assertNotIn("secret", mine[0])
        self.assertEqual(c.get_webhook(created["id"])["url"], f"{self.receiver_url}/crud")
        changed = c.update_webhook(created["id"], events=["deployment.rolled_back"], description=None, enabled=False)
        self.assertEqual((changed["events"], changed["description"], changed["enabled"]), (["deployment.rolled_back"], None, False))
        with self.assertRaises(TypeError):
            c.update_webhook(created["id"], colour="red")
        self.assertEqual(c.delete_webhook(created["id"])["id"], created["id"])
        with self.assertRaises(RegistryError) as gone:
            c.get_webhook(created["id"])
        self.assertEqual((gone.exception.status, gone.exception.code), (404, "webhook_not_found"))

    def test_a_bad_url_is_refused_naming_it(self) -> None:
        with self.assertRaises(RegistryError) as refused:
            self.client.create_webhook("ftp://example.com/hook", ["*"])
        self.assertEqual((refused.exception.status, refused.exception.code), (400, "invalid_webhook_url"))

    def test_deliveries_with_attempts_and_redeliver(self) -> None:
        c = self.client
        hook = c.create_webhook(f"{self.receiver_url}/deploys", ["deployment.deployed"])
        name = unique("hooked")
        self.server.publish(name, "Hi {{who}}")
        self.server.deploy(name, 1)

        def succeeded() -> bool:
            items = c.webhook_deliveries(hook["id"])["items"]
            return bool(items) and items[0]["status"] == "succeeded"

        eventually(succeeded, "the delivery succeeded after a retry", timeout=15)
        delivery = c.webhook_deliveries(hook["id"], status="succeeded")["items"][0]
        self.assertEqual(delivery["event"], "deployment.deployed")
        self.assertEqual([a["status_code"] for a in delivery["attempts"]], [500, 200])
        self.assertEqual(c.webhook_deliveries(hook["id"], status="failed")["items"], [])
        again = c.redeliver_webhook(hook["id"], delivery["id"])
        self.assertEqual((again["id"], again["status"]), (delivery["id"], "pending"))
        eventually(lambda: _Receiver.ids.count(delivery["id"]) == 3, "the redelivery arrived with the same webhook-id", timeout=15)


per_database(WebhookTests)
