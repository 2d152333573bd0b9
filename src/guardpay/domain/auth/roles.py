"""Operator roles, ordered: each role may do everything the ones below it may."""

from __future__ import annotations

from enum import StrEnum

from guardpay.errors import InvalidRequest


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = [Role.VIEWER, Role.ANALYST, Role.SUPERVISOR, Role.ADMIN]


def parse_role(value: str | Role) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(_ORDER)
        raise InvalidRequest(
            f"unknown role; use one of {names}", code="invalid_role", param="role"
        ) from None


def at_least(have: Role | str, need: Role | str) -> bool:
    """True if a holder of `have` may do what needs `need`."""
    return parse_role(have).rank >= parse_role(need).rank
