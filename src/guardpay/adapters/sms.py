"""Sending text messages: the `SmsSender` port, the in-process fake, and the backends a
deployment chooses by configuration (the way Django chooses a mail backend).

`FakeSms` is what the tests use: it keeps every message in an `outbox` (so a test can read
the code the user would have received), and can be told to fail the next sends, as
gateways do. `sms_from_settings` builds the configured backend from
`GUARDPAY_SMS_BACKEND` (config.py `Settings.sms_backend`): `console` (development:
printed to the terminal, not sent), `file:PATH` (development and tests: one JSON line per
message) or `twilio` (Twilio's Messages API). Messages carry the full phone number
because they must reach it, and a one-time code; nothing here logs either (only the
console backend prints, as its purpose).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

import httpx

from guardpay.config import Settings
from guardpay.domain.identity.masking import mask_phone
from guardpay.errors import ServiceUnavailable

_CODE = re.compile(r"\b(\d{6})\b")


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Deliver `text` to `phone` or raise ServiceUnavailable(code="sms_unavailable")."""
        ...


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str
    sent_at: datetime

    def __repr__(self) -> str:  # an outbox printed in a failing test hides the codes
        return f"SentSms(phone='***{self.phone[-4:]}', sent_at={self.sent_at!r})"


@dataclass
class FakeSms:
    outbox: list[SentSms] = field(default_factory=list)
    fail_next: int = 0  # how many coming sends fail

    def send(self, phone: str, text: str) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ServiceUnavailable(
                "the SMS gateway did not accept the message", code="sms_unavailable"
            )
        self.outbox.append(SentSms(phone, text, datetime.now(UTC)))

    def messages_to(self, phone: str) -> list[SentSms]:
        return [m for m in self.outbox if m.phone == phone]

    def last_code(self, phone: str) -> str | None:
        """The one-time code in the newest message to `phone`, if any."""
        for message in reversed(self.messages_to(phone)):
            found = _CODE.search(message.text)
            if found:
                return found.group(1)
        return None


# -- backends a deployment configures ------------------------------------------------------
#: which backend `sms_from_settings` builds: console, file:PATH or twilio (the variables
#: config.py reads these settings from)
BACKEND_ENV = "GUARDPAY_SMS_BACKEND"
TWILIO_SID_ENV = "GUARDPAY_TWILIO_ACCOUNT_SID"
TWILIO_TOKEN_ENV = "GUARDPAY_TWILIO_AUTH_TOKEN"
TWILIO_FROM_ENV = "GUARDPAY_TWILIO_FROM"
TWILIO_BASE_URL_ENV = "GUARDPAY_TWILIO_BASE_URL"
TWILIO_BASE_URL = "https://api.twilio.com"


class SmsConfigError(ValueError):
    """`GUARDPAY_SMS_BACKEND` (or a provider's settings) cannot be used; the message names
    the variable, never a secret's value."""


def _unavailable(message: str) -> ServiceUnavailable:
    return ServiceUnavailable(message, code="sms_unavailable")


class ConsoleSms:
    """Development only: writes each message to the terminal (stdout by default) instead of
    sending it, so whoever tries the API can read the code. Printing the text is its purpose;
    it goes to the stream, never through logging, and is marked as not sent."""

    MARK = "[development SMS, not sent]"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> None:
        out = self.stream if self.stream is not None else sys.stdout
        with self._lock:
            print(f"{self.MARK} to {mask_phone(phone)}: {text}", file=out, flush=True)


class FileSms:
    """Development and tests: appends one JSON line per message, `{"to", "text",
    "sent_at"}`, to a file only its owner may read (0600), so a script or a test can read
    the code. Each line is one write under an exclusive lock (a thread lock and `flock`),
    on a file opened for appending, so processes and threads never interleave lines."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, phone: str, text: str) -> None:
        line = json.dumps(
            {"to": phone, "text": text, "sent_at": datetime.now(UTC).isoformat()},
            ensure_ascii=False,
        )
        data = (line + "\n").encode()
        try:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    st = os.fstat(fd)
                    if st.st_mode & 0o077 and st.st_uid == os.geteuid():  # made wider: narrow
                        os.fchmod(fd, 0o600)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    written = os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)  # releases the lock
        except OSError:
            raise _unavailable("the SMS file backend could not write its file") from None
        if written != len(data):
            raise _unavailable("the SMS file backend wrote a partial line")


class TwilioSms:
    """Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with the
    form fields To, From and Body, authenticated by HTTP basic auth (account SID, auth
    token). Any failure (a timeout, a refused connection, a 4xx or 5xx answer) is
    ServiceUnavailable("sms_unavailable"); its message holds the HTTP status and Twilio's
    numeric error code at most, never the number, the text or the credentials. Nothing is
    retried: a resent code is the user's choice (a 5xx may still have sent the message)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        *,
        base_url: str = TWILIO_BASE_URL,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.sender = sender
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def __repr__(self) -> str:  # no credentials in a traceback's locals
        return "TwilioSms(...)"

    def send(self, phone: str, text: str) -> None:
        form = {"To": phone, "From": self.sender, "Body": text}
        try:
            response = self._client.post(self.url, data=form, auth=self._auth)
        except httpx.TimeoutException:
            raise _unavailable("the SMS provider did not answer in time") from None
        except httpx.HTTPError:
            raise _unavailable("the SMS provider could not be reached") from None
        if response.is_success:
            return
        status = f"HTTP {response.status_code}{_twilio_error(response)}"
        raise _unavailable(f"the SMS provider refused the message ({status})")

    def close(self) -> None:
        self._client.close()


def _twilio_error(response: httpx.Response) -> str:
    """Twilio's numeric error code, if its body has one (its message may quote the number,
    so only the number code is kept)."""
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return ""
    return f", Twilio error {code}" if isinstance(code, int) else ""


def sms_from_settings(settings: Settings) -> SmsSender:
    """The backend `GUARDPAY_SMS_BACKEND` names: `console` (also when unset: development),
    `file:PATH`, or `twilio` with `GUARDPAY_TWILIO_ACCOUNT_SID`, `GUARDPAY_TWILIO_AUTH_TOKEN`
    and `GUARDPAY_TWILIO_FROM` (optional `GUARDPAY_TWILIO_BASE_URL`). Raises SmsConfigError
    for an unknown backend or a missing setting."""
    choice = (settings.sms_backend or "").strip()
    if choice in ("", "console"):
        return ConsoleSms()
    if choice.startswith("file:"):
        path = choice.removeprefix("file:").strip()
        if not path:
            raise SmsConfigError(f"{BACKEND_ENV}=file:PATH needs a path, e.g. file:sms.jsonl")
        if Path(path).is_dir():
            raise SmsConfigError(f"{BACKEND_ENV}: {path} is a directory, not a file")
        return FileSms(path)
    if choice == "twilio":
        token = settings.twilio_auth_token
        given = {
            TWILIO_SID_ENV: (settings.twilio_account_sid or "").strip(),
            TWILIO_TOKEN_ENV: (token.get_secret_value() if token else "").strip(),
            TWILIO_FROM_ENV: (settings.twilio_from or "").strip(),
        }
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise SmsConfigError(f"{BACKEND_ENV}=twilio needs {', '.join(missing)}")
        base = settings.twilio_base_url.strip() or TWILIO_BASE_URL
        if not base.startswith(("https://", "http://")):
            raise SmsConfigError(f"{TWILIO_BASE_URL_ENV} must be an http(s) URL")
        sid, secret, sender = given.values()
        return TwilioSms(sid, secret, sender, base_url=base)
    raise SmsConfigError(f"unknown {BACKEND_ENV} {choice!r}: use console, file:PATH or twilio")
