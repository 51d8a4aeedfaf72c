"""Template budgets (docs/templates.md, "Limits"): the shared vectors in
test/vectors/render-limits.json, which the server and the TypeScript client
pass too, and what the vectors cannot hold (time, the API, the pre-scan)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import unittest
from typing import Any, Callable, Dict

from prompt_registry import DEFAULT_LIMITS, Prompt, TemplateError, TemplateLimits, compile_template, render

VECTORS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "vectors", "render-limits.json")

with open(VECTORS_PATH, encoding="utf-8") as _f:
    _FILE = json.load(_f)
VECTORS = _FILE["vectors"]

# Three loops over the same list: n + n² + n³ bodies.
CUBE = "{{#each a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}"


class SharedLimitVectors(unittest.TestCase):
    """One test per vector: the same text, or the same code with the same limit named."""

    def test_the_defaults_are_the_vectors_defaults(self) -> None:
        self.assertEqual(dataclasses.asdict(DEFAULT_LIMITS), _FILE["defaults"])

    def test_the_vectors_cover_every_limit(self) -> None:
        named = {(v["error"]["code"], v["error"]["limit"]) for v in VECTORS if "error" in v}
        self.assertEqual(
            named,
            {("template_too_large", limit) for limit in ("size", "tags", "depth")}
            | {("render_too_large", limit) for limit in ("iterations", "output")},
        )


def _make_test(vector: Dict[str, Any]) -> Callable[[SharedLimitVectors], None]:
    def test(self: SharedLimitVectors) -> None:
        limits = vector.get("limits")
        if "expected" in vector:
            self.assertEqual(compile_template(vector["template"], limits).render(vector["variables"], limits), vector["expected"])
            return
        with self.assertRaises(TemplateError) as caught:
            compile_template(vector["template"], limits).render(vector["variables"], limits)
        error, raised = vector["error"], caught.exception
        self.assertEqual((raised.code, raised.limit), (error["code"], error["limit"]), raised.message)
        key = {"size": "max_template_chars", "tags": "max_tags", "depth": "max_depth", "iterations": "max_iterations", "output": "max_output_chars"}[error["limit"]]
        expected_max = (limits or {}).get(key, _FILE["defaults"][key])
        self.assertEqual((raised.max, raised.details), (expected_max, {"limit": error["limit"], "max": expected_max}))
        self.assertIn(f"the limit is {expected_max}", raised.message)

    test.__doc__ = f"vector: {vector['name']}"
    return test


for _index, _vector in enumerate(VECTORS):
    _slug = re.sub(r"[^a-z0-9]+", "_", _vector["name"].lower()).strip("_")
    setattr(SharedLimitVectors, f"test_{_index:03d}_{_slug}", _make_test(_vector))


def _error(fn: Callable[[], Any]) -> TemplateError:
    try:
        fn()
    except TemplateError as err:
        return err
    raise AssertionError("no TemplateError")


class RenderBudget(unittest.TestCase):
    def test_a_render_past_its_time_limit_stops_with_the_time_named(self) -> None:
        # 200 + 200² + 200³ bodies, far more than a millisecond, and within the iteration limit given.
        limits = {"timeout_ms": 1, "max_iterations": 10**9}
        err = _error(lambda: compile_template(CUBE).render({"a": [0] * 200}, limits))
        self.assertEqual((err.code, err.limit, err.max), ("render_too_large", "time", 1))
        self.assertEqual(err.message, "rendering took more than 1 ms; the limit is 1 ms")

    def test_the_iteration_message_says_what_multiplies(self) -> None:
        err = _error(lambda: render(CUBE, {"a": [0] * 600}))
        self.assertEqual(
            err.message,
            "rendering ran more than 100000 loop iterations; the limit is 100000 (a loop inside a loop multiplies: check nested {{#each}})",
        )

    def test_a_runaway_loop_stops_on_its_output_before_its_iterations(self) -> None:
        # 200,000 bodies of 1,000 characters: the output limit (1,000,000) is reached at the
        # 1,001st body, long before the 100,001st: checked as the loop goes, not at the end.
        err = _error(lambda: render("{{#each a}}{{../b}}{{/each}}", {"a": [0] * 200_000, "b": "x" * 1000}))
        self.assertEqual((err.code, err.limit, err.max), ("render_too_large", "output", 1_000_000))

    def test_many_tags_printing_one_big_value_are_over_the_output(self) -> None:
        err = _error(lambda: render("{{b}}" * 100, {"b": "y" * 20_000}, {"max_output_chars": 1_999_999}))
        self.assertEqual((err.limit, err.max), ("output", 1_999_999))
        self.assertEqual(len(render("{{b}}" * 100, {"b": "y" * 20_000}, {"max_output_chars": 2_000_000})), 2_000_000)

    def test_output_in_a_block_counts(self) -> None:
        template = "{{#if t}}" + "{{b}}-" * 20 + "{{/if}}"
        self.assertEqual(_error(lambda: render(template, {"t": True, "b": "abcd"}, {"max_output_chars": 99})).limit, "output")
        self.assertEqual(len(render(template, {"t": True, "b": "abcd"}, {"max_output_chars": 100})), 100)

    def test_loops_anywhere_count_in_an_else_chain_a_with_or_an_inverse(self) -> None:
        variables = {"a": False, "b": [1], "w": {"b": [1]}}
        for source in ("{{#if a}}{{else each b}}{{this}}{{/if}}", "{{#with w}}{{#each b}}.{{/each}}{{/with}}", "{{^if a}}{{#each b}}.{{/each}}{{/if}}"):
            with self.subTest(source=source):
                self.assertEqual(_error(lambda: render(source, variables, {"max_iterations": 0})).limit, "iterations")

    def test_each_render_has_its_own_budget(self) -> None:
        template = compile_template("{{#each a}}.{{/each}}")
        for _ in range(3):
            self.assertEqual(template.render({"a": [1, 2, 3]}, {"max_iterations": 3}), "...")

    def test_the_iteration_count_is_exact_past_the_clock_checks(self) -> None:
        # The clock is read every so many bodies; the count must stay exact across those readings.
        template = compile_template("{{#each a}}{{#each ../a}}.{{/each}}{{/each}}")
        variables = {"a": list(range(100))}  # 100 + 10,000 bodies
        self.assertEqual(len(template.render(variables, {"max_iterations": 10_100})), 10_000)
        self.assertEqual(_error(lambda: template.render(variables, {"max_iterations": 10_099})).limit, "iterations")


class CompileBudget(unittest.TestCase):
    def test_deep_nesting_is_refused_before_the_parser_recurses(self) -> None:
        source = "{{#if a}}" * 100_000 + "x" + "{{/if}}" * 100_000
        err = _error(lambda: compile_template(source, {"max_tags": 10**6, "max_template_chars": 10**7}))
        self.assertEqual((err.code, err.limit, err.max), ("template_too_large", "depth", 32))
        self.assertEqual(err.message, "the template nests blocks 33 deep; the limit is 32")

    def test_subexpressions_nested_too_deep_to_compile_are_too_large_not_a_crash(self) -> None:
        source = "{{lookup " + "(lookup " * 5000 + "a b" + ")" * 5000 + " c}}"
        err = _error(lambda: compile_template(source))
        self.assertEqual((err.code, err.limit, err.max), ("template_too_large", "depth", 32))

    def test_too_many_tags_and_too_long_name_their_limit(self) -> None:
        err = _error(lambda: compile_template("{{a}} " * 20_000))
        self.assertEqual((err.code, err.limit, err.max), ("template_too_large", "tags", 5000))
        self.assertEqual(err.message, "the template has more than 5000 tags; the limit is 5000")
        err = _error(lambda: compile_template("x" * 200_001))
        self.assertEqual((err.limit, err.max, err.message), ("size", 200_000, "the template is 200001 characters long; the limit is 200000"))

    def test_else_tags_do_not_nest(self) -> None:
        for source in ("{{#if a}}x{{else}}y{{/if}}", "{{#if a}}x{{^}}y{{/if}}", "{{#if a}}x{{^  ~}}y{{/if}}"):
            self.assertEqual(render(source, {"a": False}, {"max_depth": 1}), "y", source)

    def test_comments_hide_their_tags_however_they_close(self) -> None:
        cases = {
            "{{!-- {{#if a}} --~}}{{a}}": 2,  # closed by --~}}
            "{{!--}}{{a}}": 2,  # Handlebars closes {{!--}} at once
            "{{! {{#if a}}{{a}}": 2,  # a short comment ends at the first }}
            "{{!-- {{#if a}}{{a}}": 1,  # unterminated: the rest is the comment
        }
        for source, tags in cases.items():
            with self.subTest(source=source):
                err = _error(lambda: compile_template(source, {"max_tags": tags - 1, "max_depth": 0}))
                self.assertEqual(err.limit, "tags")
                try:
                    compile_template(source, {"max_tags": tags, "max_depth": 0})
                except TemplateError as other:  # parsing may refuse it; the budget must not
                    self.assertNotEqual(other.code, "template_too_large", other.message)

    def test_compiled_templates_are_cached_per_compile_limits(self) -> None:
        source = "{{#if a}}{{#if a}}x{{/if}}{{/if}}"
        self.assertIs(compile_template(source), compile_template(source, {"timeout_ms": 5}))
        self.assertEqual(_error(lambda: compile_template(source, {"max_depth": 1})).limit, "depth")
        self.assertEqual(compile_template(source, {"max_depth": 2}).render({"a": 1}), "x")

    def test_a_prompt_compiles_again_under_stricter_limits(self) -> None:
        prompt = Prompt("p", None, 1, None, "{{#if a}}{{#if a}}x{{/if}}{{/if}}", None, "m", 0, 1, [], {}, None, "registry")
        self.assertEqual(prompt.render({"a": 1}), "x")
        self.assertEqual(_error(lambda: prompt.render({"a": 1}, {"max_depth": 1})).limit, "depth")
        self.assertEqual(prompt.render({"a": 1}), "x")


class LimitsApi(unittest.TestCase):
    def test_a_mapping_overrides_some_limits_and_unknown_or_negative_ones_are_refused(self) -> None:
        self.assertEqual(render("{{#each a}}.{{/each}}", {"a": [1, 2]}, TemplateLimits(max_iterations=2)), "..")
        with self.assertRaisesRegex(ValueError, "unknown template limit max_loops"):
            render("x", {}, {"max_loops": 1})
        with self.assertRaisesRegex(ValueError, "max_depth must be a number >= 0"):
            TemplateLimits(max_depth=-1)
        with self.assertRaises(TypeError):
            render("x", {}, 5)  # type: ignore[arg-type]

    def test_other_errors_have_no_limit(self) -> None:
        err = _error(lambda: render("{{x}}", {}))
        self.assertEqual((err.code, err.limit, err.max), ("missing_variable", None, None))


if __name__ == "__main__":
    unittest.main()
