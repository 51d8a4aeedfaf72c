"""PromptClient against a real registry (started by the tests), once per database."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import unittest
from typing import Any, List, Optional, Tuple

from _support import ADMIN_KEY, PerDatabase, SharedRegistry, RegistryServer, eventually, free_port, per_database, sibling_database, unique
from prompt_registry import (
    BundleError,
    PromptClient,
    PromptNotFoundError,
    RegistryUnreachableError,
    TemplateError,
)

# A push update must arrive long before the TTL: we allow it this long.
PUSH_WAIT = 5.0


class ClientTests(SharedRegistry):
    """Tests sharing one registry per database."""

    def client(self, url: Optional[str] = None, **options: Any) -> PromptClient:
        client = PromptClient(url or self.server.url, ADMIN_KEY, **options)
        self.clients.append(client)
        return client

    def two_versions(self, prefix: str, first: str = "one {{x}}", second: str = "two {{x}}") -> str:
        name = unique(prefix)
        self.server.publish(name, first)
        self.server.publish(name, second)
        self.server.deploy(name, 1)
        return name

    # -- get and render

    def test_gets_the_live_prompt_with_its_settings_and_renders_it(self) -> None:
        name = unique("greet")
        self.server.publish(name, "Hello {{name}}, from {{company}}.", model="gpt-4o-mini", temperature=0.3, max_tokens=200, metadata={"top_p": 0.9})
        self.server.publish(name, "Hi {{name}}! ({{company}})")
        self.server.deploy(name, 1)
        c = self.client(push=False)
        p = c.get(name)
        self.assertEqual((p.name, p.environment, p.version, p.source), (name, "production", 1, "registry"))
        self.assertEqual((p.model, p.temperature, p.max_tokens, p.metadata), ("gpt-4o-mini", 0.3, 200, {"top_p": 0.9}))
        self.assertEqual(p.variables, ["name", "company"])
        self.assertEqual(len(p.content_hash or ""), 64)
        self.assertTrue(p.version_id and p.deployed_at)
        self.assertEqual(c.render(name, {"name": "Ann", "company": "Acme"}), "Hello Ann, from Acme.")
        # The seed's call, positionally as the seed wrote it.
        self.assertEqual(c.get_and_render(name, {"name": "Bo", "company": "Acme"}, "production"), "Hello Bo, from Acme.")
        v2 = c.get(name, version=2)
        self.assertEqual((v2.version, v2.environment, v2.content), (2, None, "Hi {{name}}! ({{company}})"))
        self.assertIs(c.get(name, version=2), v2, "versions are cached for good")
        self.assertEqual(c.render(name, {"name": "Cy", "company": "Acme"}, version=2), "Hi Cy! (Acme)")

    def test_a_missing_variable_is_an_error_naming_it(self) -> None:
        name = unique("strict")
        self.server.publish(name, "Dear {{customer.name}}, about {{topic}}")
        self.server.deploy(name, 1)
        c = self.client(push=False)
        with self.assertRaises(TemplateError) as caught:
            c.render(name, {"customer": {"name": "Di"}})
        self.assertEqual(caught.exception.code, "missing_variable")
        self.assertEqual(caught.exception.details["variable"], "topic")
        self.assertIn('"topic"', str(caught.exception))
        with self.assertRaises(TemplateError) as caught:
            c.get_and_render(name, {"topic": "x"})
        self.assertEqual(caught.exception.details["variable"], "customer.name")

    def test_unknown_prompts_versions_and_environments_are_not_found(self) -> None:
        name = unique("found")
        self.server.publish(name, "x")
        self.server.deploy(name, 1)
        c = self.client(push=False)
        cases = [
            (lambda: c.get(unique("nope")), "prompt_not_found"),
            (lambda: c.get(name, environment="staging"), "not_deployed"),
            (lambda: c.get(name, version=9), "version_not_found"),
        ]
        for call, code in cases:
            with self.subTest(code=code), self.assertRaises(PromptNotFoundError) as caught:
                call()
            self.assertEqual((caught.exception.status, caught.exception.code), (404, code))

    # -- caching

    def test_serves_from_its_cache_within_the_ttl(self) -> None:
        name = self.two_versions("cached")
        c = self.client(push=False, cache_ttl=3600)
        first = c.get(name)
        self.server.deploy(name, 2)
        time.sleep(0.3)
        self.assertIs(c.get(name), first, "no push and the TTL is not over: the cached prompt")

    def test_push_sees_a_deploy_and_a_rollback_long_before_the_ttl(self) -> None:
        name = self.two_versions("pushed")
        c = self.client(cache_ttl=3600)
        self.assertEqual(c.get(name).version, 1)
        self.assertTrue(c._connected.wait(PUSH_WAIT), "the event stream connects")
        self.server.deploy(name, 2)
        eventually(lambda: c.get(name).version == 2, "the client sees version 2 without waiting for the TTL", PUSH_WAIT)
        self.server.rollback(name)
        eventually(lambda: c.get(name).version == 1, "the client sees the rollback", PUSH_WAIT)
        self.assertEqual(c.render(name, {"x": "!"}), "one !")

    def test_reports_why_the_registry_ended_the_stream_when_its_key_is_revoked(self) -> None:
        key_name = unique("streamer")
        status, created = self.server.call("POST", "/keys", {"name": key_name, "scopes": ["read"]})
        self.assertEqual(status, 201)
        errors: List[BaseException] = []
        c = PromptClient(self.server.url, created["key"], cache_ttl=3600, on_error=errors.append)
        self.clients.append(c)
        c.get(self.two_versions("revoked-stream"))
        self.assertTrue(c._connected.wait(PUSH_WAIT), "the event stream connects")
        self.assertEqual(self.server.call("DELETE", f"/keys/{key_name}")[0], 200)
        eventually(
            lambda: any(f'the API key "{key_name}" was revoked' in str(e) for e in errors),
            "the client reports the registry's reason for ending the stream",
            PUSH_WAIT * 3,
        )

    def test_ttl_polling_sees_a_deploy_and_a_304_keeps_the_same_object(self) -> None:
        name = self.two_versions("polled")
        c = self.client(push=False, cache_ttl=0.3)
        answers: List[Tuple[Optional[str], int]] = []
        request = c._http.request

        def recording(method: str, path: str, body: Any = None, etag: Optional[str] = None) -> Any:
            answer = request(method, path, body, etag)
            answers.append((etag, answer.status))
            return answer

        c._http.request = recording  # type: ignore[method-assign]
        first = c.get(name)
        self.assertEqual(answers, [(None, 200)])
        time.sleep(0.4)
        self.assertIs(c.get(name), first, "the stale prompt is served while it is refreshed")
        eventually(lambda: len(answers) == 2, "one background refresh")
        etag, status = answers[1]
        self.assertTrue(etag, "the refresh is conditional (If-None-Match)")
        self.assertEqual(status, 304)
        self.assertIs(c.get(name), first, "a 304 keeps the same Prompt object")
        self.server.deploy(name, 2)
        eventually(lambda: c.get(name).version == 2, "the client sees version 2 once the TTL is over")

    def test_stale_prompts_are_refreshed_once_however_many_ask(self) -> None:
        name = self.two_versions("once")
        c = self.client(push=False, cache_ttl=0.2)
        first = c.get(name)
        calls: List[str] = []
        released = threading.Event()
        request = c._http.request

        def held(*args: Any, **kwargs: Any) -> Any:
            calls.append(args[1])
            released.wait(10)  # the refresh ends only after every reader below has its answer
            return request(*args, **kwargs)

        c._http.request = held  # type: ignore[method-assign]
        time.sleep(0.3)
        answers: List[Any] = []
        threads = [threading.Thread(target=lambda: answers.append(c.get(name))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        released.set()
        eventually(lambda: not c._cache._inflight, "the refresh ends")
        self.assertEqual(len(calls), 1, "one refresh for eight readers of a stale prompt")
        self.assertEqual(len(answers), 8)
        self.assertTrue(all(a is first for a in answers), "each reader got the stale prompt at once")

    # -- offline starts

    def test_starts_cold_and_offline_from_an_exported_bundle_or_a_fallback_in_code(self) -> None:
        name = self.two_versions("bundled", "Hello {{who}}", "Hi {{who}}!")
        self.server.deploy(name, 2, "staging")
        status, bundle = self.server.call("GET", "/export?environment=staging")
        self.assertEqual(status, 200)
        self.assertEqual(bundle["prompts"][name]["version_number"], 2)
        folder = tempfile.mkdtemp(prefix="prompt-registry-pytest-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "bundle.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(bundle, f)

        errors: List[BaseException] = []
        dead = f"http://127.0.0.1:{free_port()}"
        offline = self.client(
            dead,
            environment="staging",
            bundle_path=path,
            fallbacks={"other": "Fallback for {{who}}", "rich": {"content": "{{a}}", "model": "m", "temperature": 0.5}},
            on_error=errors.append,
        )
        p = offline.get(name)
        self.assertEqual((p.source, p.version, p.environment), ("bundle", 2, "staging"))
        self.assertEqual(offline.render(name, {"who": "Cy"}), "Hi Cy!")
        fb = offline.get("other")
        self.assertEqual((fb.source, fb.version, fb.version_id, fb.variables), ("fallback", 0, None, ["who"]))
        self.assertEqual(offline.render("other", {"who": "me"}), "Fallback for me")
        self.assertEqual((offline.get("rich").model, offline.get("rich").temperature), ("m", 0.5))
        self.assertTrue(any(isinstance(e, RegistryUnreachableError) for e in errors), "the unreachable registry is reported")

        with self.assertRaises(RegistryUnreachableError) as caught:
            offline.get("missing")
        self.assertIn("unreachable", caught.exception.message)
        self.assertIn('"missing"', caught.exception.message)
        # The bundle is for staging: production falls through to "unreachable".
        with self.assertRaises(RegistryUnreachableError):
            offline.get(name, environment="production")

    def test_unreachable_with_nothing_to_stand_in_is_a_clear_error(self) -> None:
        c = self.client(f"http://127.0.0.1:{free_port()}", timeout=1.0)
        with self.assertRaises(RegistryUnreachableError) as caught:
            c.get_and_render("greet", {})
        message = caught.exception.message
        self.assertIn("is unreachable", message)
        self.assertIn('no cached, bundled or fallback prompt "greet" for production', message)

    def test_refuses_a_file_that_is_not_a_bundle(self) -> None:
        folder = tempfile.mkdtemp(prefix="prompt-registry-pytest-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "not-a-bundle.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"hello": 1}')
        with self.assertRaises(BundleError) as caught:
            PromptClient(self.server.url, ADMIN_KEY, bundle_path=path)
        self.assertIn("not a bundle written by `prompt-registry export`", str(caught.exception))


per_database(ClientTests)


class RegistryStopTests(PerDatabase):
    """Tests that stop or restart a registry of their own."""

    database_url: str

    def setUp(self) -> None:
        self.server = RegistryServer(sibling_database(self.database_url, "offline")).start()
        self.clients: List[PromptClient] = []

    def tearDown(self) -> None:
        for client in self.clients:
            client.close(0.5)
        self.server.stop()

    def test_keeps_serving_the_last_known_prompt_when_the_registry_stops(self) -> None:
        name = unique("kept")
        self.server.publish(name, "Kept {{x}}")
        self.server.deploy(name, 1)
        errors: List[BaseException] = []
        c = PromptClient(self.server.url, ADMIN_KEY, push=False, cache_ttl=0.05, on_error=errors.append)
        self.clients.append(c)
        self.assertEqual(c.render(name, {"x": "a"}), "Kept a")
        self.server.kill()
        time.sleep(0.1)
        self.assertEqual(c.render(name, {"x": "b"}), "Kept b")
        eventually(lambda: any(isinstance(e, RegistryUnreachableError) for e in errors), "the failed refresh is reported")
        self.assertEqual(c.render(name, {"x": "c"}), "Kept c")
        self.assertEqual(c.get(name).source, "registry")

    def test_push_resumes_after_the_registry_restarts(self) -> None:
        name = unique("resumed")
        self.server.publish(name, "one")
        self.server.publish(name, "two")
        self.server.deploy(name, 1)
        c = PromptClient(self.server.url, ADMIN_KEY, cache_ttl=3600)
        self.clients.append(c)
        self.assertEqual(c.get(name).version, 1)
        self.assertTrue(c._connected.wait(PUSH_WAIT))
        self.server.kill()
        self.server.restart()
        # Deployed while the client may not have reconnected yet: either the event
        # or the resync after reconnecting (everything marked stale) brings it.
        self.server.deploy(name, 2)
        eventually(lambda: c.get(name).version == 2, "the client sees the deploy after the restart", 30)


per_database(RegistryStopTests)


if __name__ == "__main__":
    unittest.main()
