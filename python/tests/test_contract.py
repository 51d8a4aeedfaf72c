"""The Python client's copies of the shared contract's lists (shared/contract/*.ts) match them.

The Python package cannot import TypeScript, so it keeps its own tuples; this test reads the
TypeScript source and fails, naming the difference, when one side changes without the other.
"""

import re
import unittest
from pathlib import Path

from prompt_registry import _http, events

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract"


def ts_list(file: str, name: str) -> list:
    """The string items of `export const NAME = [...]` in a shared/contract file, in order."""
    source = (CONTRACT / file).read_text(encoding="utf-8")
    match = re.search(r"export const " + name + r" = \[(.*?)\]", source, re.S)
    if match is None:
        raise AssertionError(f"shared/contract/{file} has no list {name}")
    body = re.sub(r"//[^\n]*", "", match.group(1))
    return re.findall(r"'([^']+)'", body)


class ContractListsTest(unittest.TestCase):
    def test_event_types_match(self) -> None:
        for name in ("REGISTRY_EVENTS", "LIVE_CHANGE_EVENTS", "WEBHOOK_EVENTS"):
            with self.subTest(name):
                expected = ts_list("events.ts", name)
                self.assertTrue(expected, name)
                self.assertEqual(list(getattr(events, name)), expected, f"prompt_registry.events.{name} differs from shared/contract/events.ts")

    def test_not_found_codes_match(self) -> None:
        self.assertEqual(sorted(_http._NOT_FOUND_CODES), sorted(ts_list("errors.ts", "PROMPT_NOT_FOUND_CODES")))

    def test_every_code_the_client_names_is_a_registry_code(self) -> None:
        codes = set(ts_list("errors.ts", "ERROR_CODES"))
        self.assertIn("request_outdated", codes)
        package = Path(events.__file__).parent
        named = set()
        for path in package.glob("*.py"):
            named.update(re.findall(r'code[^\n]*?"([a-z]+(?:_[a-z]+)+)"', path.read_text(encoding="utf-8")))
        client_only = {"http_error"}  # an answer without an error body
        self.assertEqual(sorted(named - codes - client_only), [], "codes the Python client names that shared/contract/errors.ts lacks")


if __name__ == "__main__":
    unittest.main()
