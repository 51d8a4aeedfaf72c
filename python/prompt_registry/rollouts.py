"""Rollout assignment: which variant of a rollout serves a caller key.

The registry's own function (shared/rollouts/assign.ts, docs/rollouts.md
"Assignment"), so the client assigns keys locally exactly as the server does:
the first 4 bytes of the SHA-256 of ``f"{prompt}\\n{environment}\\n{rollout_id}\\n{key}"``
(UTF-8), read as a big-endian unsigned integer, modulo 100, is the key's bucket;
buckets below the rollout's weight get the candidate.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

__all__ = ["rollout_bucket", "assign_variant"]


def rollout_bucket(prompt: str, environment: str, rollout_id: str, key: str) -> int:
    """The key's bucket, 0 to 99, for one rollout of a prompt in an environment."""
    digest = hashlib.sha256(f"{prompt}\n{environment}\n{rollout_id}\n{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100


def assign_variant(prompt: str, environment: str, rollout: Mapping[str, Any], key: str) -> str:
    """``"candidate"`` when the key's bucket is below the rollout's weight, else ``"live"``."""
    return "candidate" if rollout_bucket(prompt, environment, str(rollout["id"]), key) < int(rollout["weight"]) else "live"
