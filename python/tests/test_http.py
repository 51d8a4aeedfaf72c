"""How answers and failures of the registry become typed errors."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import unittest
from typing import Any, Dict, Tuple

from _support import free_port
from prompt_registry import PromptNotFoundError, RegistryError, RegistryUnreachableError
from prompt_registry._http import Http

ANSWERS: Dict[str, Tuple[int, Any]] = {
    "/ok": (200, {"fine": True}),
    "/unavailable": (503, {"error": {"code": "internal_error", "message": "boom"}}),
    "/not-deployed": (404, {"error": {"code": "not_deployed", "message": "nothing live in staging", "prompt": "p"}}),
    "/no-route": (404, {"error": {"code": "route_not_found", "message": "no such route"}}),
    "/forbidden": (403, {"error": {"code": "forbidden", "message": "the key lacks deploy", "required_scope": "deploy", "request_id": "r1"}}),
    "/not-json": (400, "<html>bad</html>"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        status, body = ANSWERS[self.path]
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
        pass


class HttpErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.server.daemon_threads = True
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.http = Http(f"http://127.0.0.1:{cls.server.server_address[1]}", "key", 2.0)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.http.close()
        cls.server.shutdown()
        cls.server.server_close()

    def test_a_good_answer_is_parsed_with_its_etag(self) -> None:
        answer = self.http.request("GET", "/ok")
        self.assertEqual((answer.status, answer.body, answer.etag), (200, {"fine": True}, '"v1"'))

    def test_a_5xx_counts_as_unreachable(self) -> None:
        with self.assertRaises(RegistryUnreachableError) as caught:
            self.http.request("GET", "/unavailable")
        self.assertIn("answered 503", caught.exception.message)

    def test_not_found_codes_are_prompt_not_found_and_others_registry_errors(self) -> None:
        with self.assertRaises(PromptNotFoundError) as caught:
            self.http.request("GET", "/not-deployed")
        self.assertEqual((caught.exception.status, caught.exception.code, caught.exception.details), (404, "not_deployed", {"prompt": "p"}))
        with self.assertRaises(RegistryError) as other:
            self.http.request("GET", "/no-route")
        self.assertNotIsInstance(other.exception, PromptNotFoundError)

    def test_the_error_shape_gives_code_message_and_details(self) -> None:
        with self.assertRaises(RegistryError) as caught:
            self.http.request("GET", "/forbidden")
        e = caught.exception
        self.assertEqual((e.status, e.code, e.message), (403, "forbidden", "the key lacks deploy"))
        self.assertEqual(e.details, {"required_scope": "deploy", "request_id": "r1"})

    def test_an_answer_without_the_error_shape_still_has_a_code(self) -> None:
        with self.assertRaises(RegistryError) as caught:
            self.http.request("GET", "/not-json")
        self.assertEqual((caught.exception.code, caught.exception.message), ("http_error", "the registry answered 400"))

    def test_a_refused_connection_is_unreachable(self) -> None:
        dead = Http(f"http://127.0.0.1:{free_port()}", "key", 1.0)
        with self.assertRaises(RegistryUnreachableError) as caught:
            dead.request("GET", "/ok")
        self.assertIn("is unreachable: ECONNREFUSED", caught.exception.message)
        self.assertIsInstance(caught.exception.cause, ConnectionRefusedError)

    def test_no_answer_within_the_timeout_is_unreachable(self) -> None:
        with socket.socket() as silent:  # accepts connections (the backlog) but never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            slow = Http(f"http://127.0.0.1:{silent.getsockname()[1]}", "key", 0.2)
            with self.assertRaises(RegistryUnreachableError) as caught:
                slow.request("GET", "/ok")
        self.assertIn("no answer within 0.2 s", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
