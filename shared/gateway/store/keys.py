"""Virtual key material: generated from a CSPRNG, stored only as a SHA-256 hash.

A key is `sk-gw-` and 43 URL-safe characters (256 random bits). The table keeps its
hash (`token`) and a display form (`sk-gw-...last4`); the key itself is shown once,
in the answer to the call that created it.
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "sk-gw-"
_HASH = re.compile(r"[0-9a-f]{64}")


def generate_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def display_name(key: str) -> str:
    return f"{key[: len(PREFIX)]}...{key[-4:]}"


def is_hash(value: str) -> bool:
    """Whether an admin call named a key by its hash (LiteLLM's `token`) rather than the key."""
    return bool(_HASH.fullmatch(value))


def token_of(value: str) -> str:
    """The hash of a key given either as the key or as its hash."""
    return value if is_hash(value) else hash_key(value)


def new_id() -> str:
    return secrets.token_hex(8)
