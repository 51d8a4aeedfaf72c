"""The template engine beyond the shared vectors: Python values, the API, error details."""

from __future__ import annotations

import collections
import datetime
import types
import unittest

from prompt_registry import Prompt, TemplateError, compile_template, extract_variables, render
from prompt_registry._js import number_to_string
from prompt_registry.render import JSON_MAX_NESTING


class NumbersPrintAsJavaScriptDoes(unittest.TestCase):
    def test_the_layouts_of_number_prototype_to_string(self) -> None:
        cases = {
            1.0: "1",
            100.0: "100",
            -0.0: "0",
            1e21: "1e+21",
            1e20: "100000000000000000000",
            1e-7: "1e-7",
            0.000001: "0.000001",
            1.5e-7: "1.5e-7",
            123e-20: "1.23e-18",
            -1.5e300: "-1.5e+300",
            0.1 + 0.2: "0.30000000000000004",
            123456789012345680000.0: "123456789012345680000",
            5e-324: "5e-324",
            float("nan"): "NaN",
            float("inf"): "Infinity",
            float("-inf"): "-Infinity",
        }
        for value, text in cases.items():
            with self.subTest(value=value):
                self.assertEqual(number_to_string(value), text)

    def test_integers_beyond_double_precision_print_as_the_double_they_become(self) -> None:
        self.assertEqual(number_to_string(2**53), "9007199254740992")
        self.assertEqual(number_to_string(2**53 + 1), "9007199254740992")
        self.assertEqual(number_to_string(10**25), "1e+25")
        self.assertEqual(number_to_string(-(10**400)), "-Infinity")

    def test_booleans_are_not_numbers(self) -> None:
        self.assertEqual(render("{{t}} {{f}} {{one}}", {"t": True, "f": False, "one": 1}), "true false 1")


class PythonValues(unittest.TestCase):
    def test_tuples_are_lists(self) -> None:
        variables = {"items": ("a", "b")}
        self.assertEqual(render("{{#each items}}{{@index}}{{this}}{{/each}} {{items.length}} {{items.[1]}}", variables), "0a1b 2 b")
        with self.assertRaises(TemplateError) as caught:
            render("{{items}}", variables)
        self.assertEqual(caught.exception.code, "invalid_variable")
        self.assertIn("is a list", caught.exception.message)

    def test_non_string_dict_keys_are_the_keys_json_would_send(self) -> None:
        scores = {2: "b", None: "n", 1: "a"}
        self.assertEqual(render("{{#each m}}{{@key}}={{this}} {{/each}}", {"m": scores}), "1=a 2=b null=n ")
        self.assertEqual(render("{{lookup m 1}} {{lookup m k}}", {"m": scores, "k": "null"}), "a n")

    def test_any_mapping_is_an_object(self) -> None:
        inner = types.MappingProxyType({"name": "Ann"})
        variables = collections.OrderedDict(user=inner, n=2)
        self.assertEqual(render("{{user.name}} {{#with user}}{{name}}{{/with}} {{n}}", variables), "Ann Ann 2")

    def test_other_objects_cannot_be_printed(self) -> None:
        with self.assertRaises(TemplateError) as caught:
            render("{{when}}", {"when": datetime.date(2026, 1, 1)})
        self.assertEqual(caught.exception.code, "invalid_variable")
        self.assertEqual(caught.exception.details, {"variable": "when"})

    def test_strings_index_and_count_in_utf16_code_units_as_javascript(self) -> None:
        self.assertEqual(render("{{s.length}} {{t.length}} {{t.[1]}}", {"s": "👋", "t": "aé"}), "2 2 é")

    def test_variables_must_be_a_mapping(self) -> None:
        with self.assertRaises(TemplateError) as caught:
            compile_template("x").render(["not", "a", "dict"])  # type: ignore[arg-type]
        self.assertEqual(caught.exception.code, "invalid_variable")


class Errors(unittest.TestCase):
    def test_a_missing_variable_is_named_as_written(self) -> None:
        with self.assertRaises(TemplateError) as caught:
            render("Hi {{user.name}}", {"user": {}})
        self.assertEqual(caught.exception.code, "missing_variable")
        self.assertEqual(caught.exception.details, {"variable": "user.name"})
        self.assertEqual(str(caught.exception), 'missing variable "user.name"')

    def test_a_null_variable_says_so(self) -> None:
        with self.assertRaises(TemplateError) as caught:
            render("{{x}}", {"x": None})
        self.assertEqual((caught.exception.code, caught.exception.message), ("missing_variable", 'variable "x" is null'))

    def test_syntax_errors_give_line_and_column(self) -> None:
        with self.assertRaises(TemplateError) as caught:
            compile_template("line\nHi {{name")
        self.assertEqual(caught.exception.code, "template_syntax_error")
        self.assertEqual(caught.exception.details, {"line": 2, "column": 6})
        self.assertEqual(caught.exception.message, "template syntax error at line 2, column 6: unexpected character inside {{...}}")

    def test_columns_count_as_the_server_does(self) -> None:
        # UTF-16 code units, like JavaScript: the emoji counts twice (the error is at the end).
        with self.assertRaises(TemplateError) as caught:
            compile_template("👋 {{#if x}}")
        self.assertEqual(caught.exception.details, {"line": 1, "column": 13})

    def test_unsupported_constructs_name_the_helper_and_place(self) -> None:
        with self.assertRaises(TemplateError) as caught:
            compile_template("ok\n  {{upper name}}")
        self.assertEqual(caught.exception.code, "template_unsupported")
        self.assertEqual(caught.exception.details, {"line": 2, "column": 3, "helper": "upper"})
        self.assertIn("supported helpers are if, unless, each, with, lookup", caught.exception.message)
        for source in ("{{> (name)}}", "{{> footer x=1}}", "{{#> layout}}x{{/layout}}", "{{*decorator}}", "{{#items}}x{{/items}}", "{{{{raw}}}}x{{{{/raw}}}}"):
            with self.subTest(source=source), self.assertRaises(TemplateError) as caught:
                compile_template(source)
            self.assertEqual(caught.exception.code, "template_unsupported")
            self.assertEqual(caught.exception.details["line"], 1)

    def test_what_the_server_fails_on_is_refused_when_reached(self) -> None:
        # The server's Handlebars fails (a 500) on {{#if}} used inside (...); a trial render at compile time finds it.
        with self.assertRaises(TemplateError) as caught:
            compile_template("{{lookup (if a) b}}")
        self.assertEqual(caught.exception.code, "template_unsupported")


class Api(unittest.TestCase):
    def test_variables_are_the_root_names_in_order_of_first_use(self) -> None:
        source = "Hello {{user.name}}, {{#each items as |it|}}{{title}}{{it.x}}{{../shop}}{{/each}} {{#if vip}}!{{/if}} {{@root.site}} {{@index}}"
        self.assertEqual(extract_variables(source), ["user", "items", "shop", "vip", "site"])
        self.assertEqual(compile_template(source).variables, ("user", "items", "shop", "vip", "site"))

    def test_dotprompt_helpers_read_variables_like_any_other(self) -> None:
        source = '{{json order.items indent=2}}{{section "output"}}{{#ifEquals user.tier gold}}{{a}}{{else}}{{b}}{{/ifEquals}}'
        self.assertEqual(extract_variables(source), ["order", "user", "gold", "a", "b"])
        nested = "{{#each rows as |r|}}{{#unlessEquals r.kind ../skip}}{{json this}}{{/unlessEquals}}{{/each}}"
        self.assertEqual(extract_variables(nested), ["rows", "skip"])

    def test_json_refuses_a_value_nested_past_its_limit(self) -> None:
        deep: object = []
        for _ in range(JSON_MAX_NESTING):
            deep = [deep]
        with self.assertRaises(TemplateError) as caught:
            render("{{json d}}", {"d": deep})
        self.assertEqual((caught.exception.code, caught.exception.details.get("variable")), ("invalid_variable", "d"))
        self.assertEqual(render("{{json d}}", {"d": deep[0]}), "[" * JSON_MAX_NESTING + "]" * JSON_MAX_NESTING)
        with self.assertRaises(TemplateError) as caught:
            render("{{json s}}", {"s": {1, 2}})
        self.assertEqual(caught.exception.code, "invalid_variable")

    def test_templates_compile_once(self) -> None:
        self.assertIs(compile_template("cached {{x}}"), compile_template("cached {{x}}"))
        prompt = Prompt("p", None, 1, None, "Hi {{x}}", None, "gpt-4o", 0, 1000, ["x"], {}, None, "fallback")
        self.assertEqual(prompt.render({"x": 1}), "Hi 1")
        compiled = prompt._compiled
        self.assertIsNotNone(compiled)
        self.assertEqual(prompt.render({"x": 2}), "Hi 2")
        self.assertIs(prompt._compiled, compiled)

    def test_a_compiled_template_renders_many_times(self) -> None:
        template = compile_template("{{#each xs}}{{this}}{{/each}}")
        self.assertEqual([template.render({"xs": [i]}) for i in range(3)], ["0", "1", "2"])


if __name__ == "__main__":
    unittest.main()
