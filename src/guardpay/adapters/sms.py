"""Sending text messages: the `SmsSender` port, and the in-process fake behind it.

A real deployment plugs an SMS gateway in behind `SmsSender`. `FakeSms` is what the demo
and the tests use: it keeps every message in an `outbox` (so a test can read the code
the user would have received), and can be told to fail the next sends, as gateways do.
Messages carry the full phone number because they must reach it; nothing here logs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

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
