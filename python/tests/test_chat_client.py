"""The Python client with chat prompts through its public API: a chat prompt with a partial
and a placeholder served from a bundle (the registry unreachable), rendered locally, run
through ``execute`` and turned into provider requests. The rules themselves are in the
shared vectors (test_chat_vectors.py)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest
from typing import Any, Dict

from prompt_registry import (
    InvalidInputError,
    PromptClient,
    TemplateError,
    compile_template,
    to_anthropic_messages,
    to_openai_chat,
)


def _entry(**over: Any) -> Dict[str, Any]:
    base: Dict[str, Any] = {
        "content": None,
        "model": "gpt-4o",
        "temperature": 0.3,
        "max_tokens": 300,
        "variables": [],
        "metadata": {},
        "version_number": 2,
        "version_id": "11111111-1111-4111-8111-111111111111",
        "content_hash": "h",
        "deployed_at": "2026-01-01T00:00:00.000Z",
        "config": {"model": "gpt-4o", "temperature": 0.3, "max_tokens": 300},
        "input_schema": None,
        "includes": [],
        "partials": {},
    }
    base.update(over)
    return base


HISTORY = [{"role": "user", "content": "My order is late."}, {"role": "assistant", "content": "What is the order number?"}]


class ChatPromptsFromABundle(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = tempfile.mkdtemp(prefix="pr-chat-")
        path = os.path.join(cls.dir, "bundle.json")
        support = _entry(
            type="chat",
            messages=[
                {"role": "system", "content": 'You help {{company}} customers.\n{{> "safety@3"}}\n'},
                {"type": "placeholder", "name": "history"},
                {"role": "user", "content": "{{question}}"},
            ],
            partials={"safety@3": {"prompt": "safety", "version": 3, "version_id": "p-safety-3", "content": "Never share personal data.\n"}},
            input_schema={
                "type": "object",
                "properties": {"company": {"type": "string", "default": "Acme"}, "question": {"type": "string", "minLength": 1}},
                "required": ["question"],
            },
        )
        summary = _entry(type="text", content="Summarise: {{text}}", input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"format": "prompt-registry-bundle/v1", "environment": "production", "prompts": {"support": support, "summary": summary}}, f)
        # Nothing listens on port 9: every request fails at once and the bundle stands in.
        cls.client = PromptClient("http://127.0.0.1:9", "k", push=False, bundle_path=path, timeout=0.5)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close(0.05)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_renders_the_messages_in_order(self) -> None:
        r = self.client.render_full("support", {"question": "It is 42."}, placeholders={"history": HISTORY})
        self.assertEqual(r.type, "chat")
        self.assertIsNone(r.text)
        self.assertEqual(
            r.messages,
            [{"role": "system", "content": "You help Acme customers.\nNever share personal data.\n"}, *HISTORY, {"role": "user", "content": "It is 42."}],
        )
        self.assertEqual(r.partials_used, [{"prompt": "safety", "version": 3, "version_id": "p-safety-3"}])
        self.assertEqual(r.config, {"model": "gpt-4o", "temperature": 0.3, "max_tokens": 300})

    def test_refuses_bad_input_naming_the_field(self) -> None:
        with self.assertRaises(InvalidInputError) as caught:
            self.client.render_full("support", {"question": ""})
        self.assertEqual((caught.exception.code, caught.exception.field), ("invalid_variables", "variables.question"))
        with self.assertRaises(InvalidInputError) as caught:
            self.client.render_full("support", {"question": "q"}, placeholders={"history": [{"role": "robot", "content": "x"}]})
        self.assertEqual(caught.exception.field, "placeholders.history[0].role")
        with self.assertRaises(InvalidInputError) as caught:
            self.client.render("summary", {})
        self.assertEqual(str(caught.exception), "variables.text: is required")

    def test_text_prompts_render_as_before_and_chat_needs_render_full(self) -> None:
        self.assertEqual(self.client.render("summary", {"text": "hi"}), "Summarise: hi")
        with self.assertRaisesRegex(TypeError, "chat prompt: render_full"):
            self.client.render("support", {"question": "q"})

    def test_execute_hands_the_call_messages_and_config(self) -> None:
        seen: Dict[str, Any] = {}

        def call(rendered: Any) -> Dict[str, Any]:
            seen.update(to_anthropic_messages(rendered))
            return to_openai_chat(rendered, {"user": "u1"})

        answer = self.client.execute("support", {"question": "Hi"}, call)
        self.assertEqual(
            seen,
            {"model": "gpt-4o", "max_tokens": 300, "system": "You help Acme customers.\nNever share personal data.\n", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.3},
        )
        self.assertEqual((len(answer["messages"]), answer["user"], answer["max_completion_tokens"]), (2, "u1", 300))

    def test_a_chat_fallback_given_in_code(self) -> None:
        client = PromptClient(
            "http://127.0.0.1:9", "k", push=False, fallbacks={"greet": {"type": "chat", "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi {{name}}"}]}}
        )
        try:
            r = client.render_full("greet", {"name": "Ann"})
            self.assertEqual(r.messages, [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi Ann"}])
            with self.assertRaises(TemplateError) as caught:
                client.render_full("greet", {})
            self.assertEqual(caught.exception.code, "missing_variable")
        finally:
            client.close(0.05)


class EnginePartials(unittest.TestCase):
    def test_partials_that_include_each_other_stop_at_the_depth_limit(self) -> None:
        # Given straight to the engine (no resolve answer to check first), recursion is still bounded.
        partials = {"a": compile_template("A{{> b}}"), "b": compile_template("B{{> a}}")}
        with self.assertRaises(TemplateError) as caught:
            compile_template("{{> a}}").render({}, partials=partials)
        self.assertEqual(caught.exception.code, "reference_too_deep")
        self.assertIn("a -> b -> a -> b", caught.exception.message)

    def test_a_partial_is_a_reference_as_written(self) -> None:
        self.assertEqual(compile_template('{{> x}}{{> "y@3"}}{{> x}}').partials, ("x", "y@3"))
