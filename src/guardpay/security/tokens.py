"""Opaque session tokens and random identifiers.

A session token is 256 random bits (`secrets.token_urlsafe(32)`), shown to the client once.
The database keeps only its SHA-256: a token is already uniformly random, so a fast hash
is enough (no salt or stretching needed), and it lets a request be authenticated by an
indexed lookup. Someone who reads the table cannot present any token they find there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_id(prefix: str) -> str:
    """A public identifier like `ses_3f0c...`: unguessable, but not a credential."""
    return f"{prefix}_{secrets.token_hex(12)}"
