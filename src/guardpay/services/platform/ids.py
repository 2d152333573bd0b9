"""Public identifiers of the platform's records (users, merchants, payments, decisions):
a prefix naming the kind and 80 random bits, unguessable so ids never enumerate."""

from __future__ import annotations

import base64
import secrets


def new_id(prefix: str) -> str:
    """ "usr_" + 16 lowercase base32 characters (80 random bits)."""
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(10)).decode().lower()}"
