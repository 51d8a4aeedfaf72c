"""The shared chat vectors (test/vectors/chat.json): the TypeScript client runs the
same ones (test/clients/chat-vectors.test.ts); both must give these results."""

from __future__ import annotations

import copy
import json
import os
import re
import unittest
from typing import Any, Callable, Dict

from prompt_registry import (
    InvalidInputError,
    ProviderFormatError,
    TemplateError,
    to_anthropic_messages,
    to_openai_chat,
    to_openai_responses,
)
from prompt_registry.prompt import prompt_from_resolved

VECTORS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "vectors", "chat.json")

with open(VECTORS_PATH, encoding="utf-8") as _f:
    _DOC = json.load(_f)
RENDER = _DOC["render"]
PROVIDERS = _DOC["providers"]
HELPERS = {"openai_chat": to_openai_chat, "openai_responses": to_openai_responses, "anthropic": to_anthropic_messages}


def _render(vector: Dict[str, Any]) -> Any:
    p = vector["prompt"]
    body = dict(p, version_number=p["version"], deployed_at="2026-01-01T00:00:00Z", model="gpt-4o", temperature=0, max_tokens=500)
    prompt = prompt_from_resolved(p["name"], "production", body, "registry")
    return prompt.render_full(vector["variables"], vector.get("placeholders"))


class SharedChatVectors(unittest.TestCase):
    """One test per vector: the same messages, text and partials used, or the same error."""

    def test_the_vectors_cover_every_error_code(self) -> None:
        codes = {v["error"]["code"] for v in RENDER if "error" in v}
        for code in ("invalid_variables", "invalid_placeholders", "unknown_placeholder", "missing_partial", "reference_cycle", "reference_too_deep", "missing_variable"):
            self.assertIn(code, codes)

    def test_variables_given_are_left_as_they_were(self) -> None:
        vector = next(v for v in RENDER if v["name"] == "a default from the input schema is applied")
        variables = copy.deepcopy(vector["variables"])
        _render(dict(vector, variables=variables))
        self.assertEqual(variables, vector["variables"])


def _render_test(vector: Dict[str, Any]) -> Callable[[SharedChatVectors], None]:
    def test(self: SharedChatVectors) -> None:
        if "expected" in vector:
            r = _render(vector)
            got = {"type": r.type, "text": r.text, "messages": r.messages, "partials_used": r.partials_used}
            self.assertEqual(got, vector["expected"])
            return
        error = vector["error"]
        with self.assertRaises((TemplateError, InvalidInputError)) as caught:
            _render(vector)
        e = caught.exception
        self.assertEqual(e.code, error["code"], str(e))
        if "message" in error:
            self.assertEqual(str(e), error["message"])
        if "field" in error:
            self.assertEqual(getattr(e, "field", None), error["field"])
        if "variable" in error:
            self.assertEqual(e.details.get("variable"), error["variable"])  # type: ignore[union-attr]

    test.__doc__ = f"render vector: {vector['name']}"
    return test


def _provider_test(vector: Dict[str, Any], key: str) -> Callable[[SharedChatVectors], None]:
    def test(self: SharedChatVectors) -> None:
        helper = HELPERS[key]
        expected = vector[key]
        if "error" in expected:
            with self.assertRaises(ProviderFormatError) as caught:
                helper(vector["rendered"], vector.get("extra"))
            self.assertEqual(caught.exception.code, expected["error"])
            return
        before = copy.deepcopy(vector["rendered"])
        self.assertEqual(helper(vector["rendered"], vector.get("extra")), expected)
        self.assertEqual(vector["rendered"], before, "the rendered prompt is left as it was")

    test.__doc__ = f"provider vector: {vector['name']} ({key})"
    return test


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


for _i, _v in enumerate(RENDER):
    setattr(SharedChatVectors, f"test_render_{_i:03d}_{_slug(_v['name'])}", _render_test(_v))
for _i, _v in enumerate(PROVIDERS):
    for _key in HELPERS:
        setattr(SharedChatVectors, f"test_provider_{_i:02d}_{_key}_{_slug(_v['name'])}", _provider_test(_v, _key))
