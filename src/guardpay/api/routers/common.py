"""Models and helpers the identity, session and operator routers share.

Secrets arrive as `SecretStr` so a request model printed by accident (a debug log, a
traceback) shows `**********`; they are unwrapped only at the service call. Responses
carry personal data masked (the services mask it); only an operator's audited reveal and
a person's own export show it in full.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, Field, SecretStr

from guardpay.domain.auth.sessions import IssuedSession, Session

T = TypeVar("T")

#: A password, PIN or code: bounded so nobody makes the server hash a megabyte.
Secret = Annotated[SecretStr, Field(min_length=1, max_length=256)]
Phone = Annotated[str, Field(min_length=1, max_length=32, examples=["13812345678"])]
#: Public identifiers (`usr_...`, `ses_...`, `chl_...`): never credentials.
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z]+_[a-z0-9]+$")]


def reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


class ErrorDetail(BaseModel):
    type: str
    code: str
    message: str
    param: str | None


class StepUp(BaseModel):
    challenge_id: str | None
    methods: list[str]


class StepUpErrorDetail(ErrorDetail):
    step_up: StepUp


class ErrorOut(BaseModel):
    """The one error shape (api/errors.py)."""

    error: ErrorDetail


class StepUpErrorOut(BaseModel):
    """401 `step_up_required`: answer the challenge with one of the methods."""

    error: StepUpErrorDetail


_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Not authenticated, or the credentials are wrong",
    403: "Not permitted (role, four-eyes, lock)",
    404: "No such resource",
    409: "Conflict with existing data",
    429: "Too many attempts",
    503: "An outside service did not answer",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an endpoint can answer."""
    return {s: {"model": ErrorOut, "description": _DESCRIPTIONS[s]} for s in statuses}


class Done(BaseModel):
    ok: bool = True


class ListOut(BaseModel, Generic[T]):
    """The API's list shape; these lists are short, so one page holds them all."""

    data: list[T]
    has_more: bool = False
    next_cursor: str | None = None


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
        return cls(id=s.id, kind=s.subject_kind, device_id=s.device_id, ip=s.ip,
                   created_at=s.created_at, last_seen_at=s.last_seen_at,
                   expires_at=s.expires_at)  # fmt: skip


class IssuedOut(BaseModel):
    """A new session. The token is shown this once; send it as `Authorization: Bearer`."""

    token: str = Field(repr=False)
    token_type: str = "bearer"
    session: SessionOut

    @classmethod
    def of(cls, issued: IssuedSession) -> IssuedOut:
        return cls(token=issued.token, session=SessionOut.of(issued.session))
