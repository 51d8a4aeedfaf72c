"""Bundle files: every prompt live in one environment, written by ``prompt-registry export``."""

from __future__ import annotations

import json
import os
from typing import Dict, Tuple, Union

from .errors import PromptRegistryError
from .prompt import Prompt, prompt_from_resolved

__all__ = ["BUNDLE_FORMAT", "BundleError", "read_bundle"]

BUNDLE_FORMAT = "prompt-registry-bundle/v1"


class BundleError(PromptRegistryError, ValueError):
    """A bundle file that cannot be read or was not written by ``prompt-registry export``."""


def read_bundle(path: Union[str, "os.PathLike[str]"]) -> Tuple[str, Dict[str, Prompt]]:
    """Reads a bundle: its environment and its prompts by name (``source="bundle"``).

    The file is what ``prompt-registry export --environment ENV`` or
    ``GET /export?environment=ENV`` writes.
    """
    try:
        with open(path, encoding="utf-8") as f:
            parsed = json.load(f)
    except (OSError, ValueError) as err:
        raise BundleError(f"cannot read the prompt bundle {os.fspath(path)}: {err}") from err
    if (
        not isinstance(parsed, dict)
        or parsed.get("format") != BUNDLE_FORMAT
        or not isinstance(parsed.get("environment"), str)
        or not parsed["environment"]
        or not isinstance(parsed.get("prompts"), dict)
    ):
        raise BundleError(f"{os.fspath(path)} is not a bundle written by `prompt-registry export` (format {BUNDLE_FORMAT})")
    environment: str = parsed["environment"]
    try:
        prompts = {name: prompt_from_resolved(name, environment, entry, "bundle") for name, entry in parsed["prompts"].items()}
    except (KeyError, TypeError, AttributeError) as err:
        raise BundleError(f"{os.fspath(path)} has a malformed prompt entry: {err!r}") from err
    return environment, prompts
