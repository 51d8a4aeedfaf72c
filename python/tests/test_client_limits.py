"""A hostile template fetched from a real registry stops within the client's
budget instead of stalling the application, once per database."""

from __future__ import annotations

from typing import Any, List

from _support import ADMIN_KEY, SharedRegistry, per_database, unique
from prompt_registry import DEFAULT_LIMITS, PromptClient, TemplateError, TemplateLimits

# Small enough for any registry to accept; 600 + 600² + 600³ loop bodies when rendered with 600 items.
CUBE = "{{#each a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}"
HOSTILE_VARIABLES = {"a": [0] * 600}


class ClientLimitTests(SharedRegistry):
    def client(self, **options: Any) -> PromptClient:
        client = PromptClient(self.server.url, ADMIN_KEY, push=False, **options)
        self.clients.append(client)
        return client

    def live(self, content: str) -> str:
        name = unique("limits")
        self.server.deploy(name, self.server.publish(name, content))
        return name

    def test_a_hostile_template_from_the_registry_runs_out_of_iterations(self) -> None:
        hostile, honest = self.live(CUBE), self.live("Hi {{name}}")
        client = self.client()
        self.assertEqual(client.limits, DEFAULT_LIMITS)
        with self.assertRaises(TemplateError) as caught:
            client.render(hostile, HOSTILE_VARIABLES)
        err = caught.exception
        self.assertEqual((err.code, err.limit, err.max), ("render_too_large", "iterations", 100_000))
        # The same client goes on serving: nothing is left running or locked.
        self.assertEqual(client.render(honest, {"name": "Ann"}), "Hi Ann")
        # An honest cross product of the same template renders.
        self.assertEqual(client.render(hostile, {"a": [0, 0]}), "x" * 8)

    def test_the_clients_limits_apply_and_a_render_call_overrides_some(self) -> None:
        hostile = self.live(CUBE)
        client = self.client(limits={"max_iterations": 1000})
        self.assertEqual(client.limits, TemplateLimits(max_iterations=1000))
        with self.assertRaises(TemplateError) as caught:
            client.render(hostile, {"a": [0] * 12})  # 12 + 144 + 1728 bodies
        self.assertEqual((caught.exception.limit, caught.exception.max), ("iterations", 1000))
        # Per call: only the iterations change; the client's other limits stay.
        self.assertEqual(len(client.render(hostile, {"a": [0] * 12}, limits={"max_iterations": 2000})), 1728)
        with self.assertRaises(TemplateError) as caught:
            client.render(hostile, {"a": [0] * 12}, limits={"max_iterations": 2000, "max_output_chars": 1000})
        self.assertEqual((caught.exception.limit, caught.exception.max), ("output", 1000))

    def test_a_hostile_render_stops_at_the_clients_time_limit(self) -> None:
        hostile = self.live(CUBE)
        client = self.client(limits=TemplateLimits(timeout_ms=1, max_iterations=10**9))
        with self.assertRaises(TemplateError) as caught:
            client.render(hostile, HOSTILE_VARIABLES)
        self.assertEqual((caught.exception.code, caught.exception.limit, caught.exception.max), ("render_too_large", "time", 1))

    def test_a_template_over_the_clients_compile_limits_is_refused_after_fetching(self) -> None:
        nested = self.live("{{#if a}}{{#if a}}{{#if a}}deep{{/if}}{{/if}}{{/if}}")
        client = self.client(limits={"max_depth": 2})
        with self.assertRaises(TemplateError) as caught:
            client.render(nested, {"a": True})
        err = caught.exception
        self.assertEqual((err.code, err.limit, err.max), ("template_too_large", "depth", 2))
        self.assertEqual(err.message, "the template nests blocks 3 deep; the limit is 2")
        self.assertEqual(client.render(nested, {"a": True}, limits={"max_depth": 3}), "deep")

    def test_execute_refuses_a_hostile_render_before_calling_the_model(self) -> None:
        hostile = self.live(CUBE)
        client = self.client()
        calls: List[Any] = []
        with self.assertRaises(TemplateError) as caught:
            client.execute(hostile, HOSTILE_VARIABLES, calls.append)
        self.assertEqual(caught.exception.limit, "iterations")
        self.assertEqual(calls, [])
        self.assertEqual(client.execute(hostile, {"a": [0]}, lambda rendered: rendered.text, limits={"max_iterations": 3}), "x")


per_database(ClientLimitTests)
