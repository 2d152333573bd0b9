"""Models and helpers the identity, session and operator routers share.

Secrets arrive as `SecretStr` so a request model printed by accident (a debug log, a
traceback) shows `**********`; they are unwrapped only at the service call. Responses
carry personal data masked (the services mask it); only an operator's audited reveal and
a person's own export show it in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query
from pydantic import BaseModel, Field, SecretStr

from guardpay.api.errors import DESCRIPTIONS, model_of
from guardpay.domain.auth.sessions import IssuedSession, Session
from guardpay.errors import InvalidRequest

T = TypeVar("T")

#: A password, PIN or code: bounded so nobody makes the server hash a megabyte.
Secret = Annotated[SecretStr, Field(min_length=1, max_length=256)]
Phone = Annotated[str, Field(min_length=1, max_length=32, examples=["13812345678"])]
#: Public identifiers (`usr_...`, `ses_...`, `chl_...`): never credentials.
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z]+_[a-z0-9]+$")]


def reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an endpoint can answer beyond those
    every operation may (api/errors.py `document`): the one error shape; a 401's
    `error.step_up` described."""
    return {s: {"model": model_of(s), "description": DESCRIPTIONS[s]} for s in statuses}


class Done(BaseModel):
    ok: bool = True


class ListOut(BaseModel, Generic[T]):
    """The API's list shape: a page, and the cursor for the next one (`next_cursor`, sent
    back as `cursor`) while `has_more`."""

    data: list[T]
    has_more: bool = False
    next_cursor: str | None = None


@dataclass(frozen=True)
class PageQuery:
    """`?cursor=&limit=` of a list endpoint."""

    cursor: str | None
    limit: int


def _page_query(
    cursor: Annotated[
        str | None, Query(max_length=64, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PageQuery:
    return PageQuery(cursor, limit)


Page = Annotated[PageQuery, Depends(_page_query)]


def page_of(items: Sequence[T], ids: Sequence[str], page: PageQuery) -> ListOut[T]:
    """A cursor page of a list the service returned whole, in its stable order, the cursor
    being the last id shown. For lists a business rule keeps short (a person's devices,
    sessions, cards; a payment's refunds; a merchant's keys): long lists (payments, ledger
    transfers) page in SQL instead. An unknown cursor is 400 `invalid_cursor`."""
    start = 0
    if page.cursor is not None:
        if page.cursor not in ids:
            raise InvalidRequest("unknown cursor", code="invalid_cursor", param="cursor")
        start = list(ids).index(page.cursor) + 1
    chunk = list(items[start : start + page.limit])
    more = start + page.limit < len(items)
    return ListOut[T](
        data=chunk, has_more=more, next_cursor=ids[start + page.limit - 1] if more else None
    )


class SessionOut(BaseModel):
    id: str
    kind: str
    device_id: str | None
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, s: Session) -> SessionOut:
        return cls(
            id=s.id,
            kind=s.subject_kind,
            device_id=s.device_id,
            ip=s.ip,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            expires_at=s.expires_at,
        )


class IssuedOut(BaseModel):
    """A new session. The token is shown this once; send it as `Authorization: Bearer`."""

    token: str = Field(repr=False)
    token_type: str = "bearer"
    session: SessionOut

    @classmethod
    def of(cls, issued: IssuedSession) -> IssuedOut:
        return cls(token=issued.token, session=SessionOut.of(issued.session))
