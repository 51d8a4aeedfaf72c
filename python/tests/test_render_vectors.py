"""The shared rendering vectors (test/vectors/render.json): the server, the
TypeScript client and this client must all give these results."""

from __future__ import annotations

import json
import os
import re
import unittest
from typing import Any, Callable, Dict

from prompt_registry import TemplateError, compile_template

VECTORS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "vectors", "render.json")

with open(VECTORS_PATH, encoding="utf-8") as _f:
    VECTORS = json.load(_f)["vectors"]


class SharedRenderVectors(unittest.TestCase):
    """One test per vector: the same text, or the same error code with the same variable or line."""

    def test_the_vectors_cover_output_and_every_error_code(self) -> None:
        self.assertGreaterEqual(len(VECTORS), 50)
        codes = {v["error"]["code"] for v in VECTORS if "error" in v}
        self.assertEqual(codes, {"missing_variable", "invalid_variable", "template_syntax_error", "template_unsupported"})


def _make_test(vector: Dict[str, Any]) -> Callable[[SharedRenderVectors], None]:
    def test(self: SharedRenderVectors) -> None:
        if "expected" in vector:
            self.assertEqual(compile_template(vector["template"]).render(vector["variables"]), vector["expected"])
            return
        with self.assertRaises(TemplateError) as caught:
            compile_template(vector["template"]).render(vector["variables"])
        error = vector["error"]
        self.assertEqual(caught.exception.code, error["code"], caught.exception.message)
        for key in ("variable", "line"):
            if key in error:
                self.assertEqual(caught.exception.details.get(key), error[key], caught.exception.message)

    test.__doc__ = f"vector: {vector['name']}"
    return test


for _index, _vector in enumerate(VECTORS):
    _slug = re.sub(r"[^a-z0-9]+", "_", _vector["name"].lower()).strip("_")
    setattr(SharedRenderVectors, f"test_{_index:03d}_{_slug}", _make_test(_vector))
