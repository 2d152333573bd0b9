"""Webhooks to merchants through a transactional outbox: registering an endpoint, and
`enqueue`, which writes the event in the caller's unit of work.

Because the event row is written in the same transaction as the change it reports, a
crash before commit leaves no event and a commit always leaves one; the delivery worker
(services/webhooks/delivery.py) sends it afterwards, however long that takes. Each event
carries the merchant's next gap-free sequence number, so a receiver can tell a gap or a
reordering from a redelivery (same sequence, same event id).

Endpoints must be at public addresses (services/webhooks/targets.py: checked at
registration and again at delivery). The signing secret is shown once, at registration,
and stored sealed by the vault under the merchant's own data key; it is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from guardpay.errors import InvalidRequest, NotFound
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.services.webhooks.targets import WebhookSettings, check_host
from guardpay.storage.outbox import OutboxEvent
from guardpay.storage.uow import UnitOfWork

SECRET_FIELD = "webhook_secret"
SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
EVENT_TYPE_MAX = 80


@dataclass(frozen=True)
class RegisteredEndpoint:
    merchant_id: str
    url: str
    secret: str  # shown to the merchant once
    created_at: datetime


def _check_url(url: str, settings: WebhookSettings) -> str:
    """http(s) with a host that is not internal (services/webhooks/targets.py: 400
    `webhook_url_not_public`). Plain http is allowed; a deployment that wants TLS-only
    can refuse it here."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range or not a number
        port = None
    if parts.scheme not in ("https", "http") or not parts.hostname or port is None:
        raise InvalidRequest(
            "the webhook URL must be an http(s) URL with a host",
            code="webhook_url_invalid",
            param="url",
        )
    check_host(parts.hostname, port, settings)
    return parts.geturl()


def register_endpoint(
    ctx: Context, merchant_id: str, url: str, *, settings: WebhookSettings | None = None
) -> RegisteredEndpoint:
    """Set (or replace) the merchant's endpoint with a fresh signing secret. `settings`
    defaults to the context's (`ctx.settings`: GUARDPAY_WEBHOOK_ALLOW_PRIVATE)."""
    from guardpay.services.identity import facade as identity

    identity.get_merchant(ctx, merchant_id)  # resource_missing if unknown
    checked = _check_url(url, settings or WebhookSettings.from_settings(ctx.settings))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    sealed = ctx.vault.encrypt(merchant_id, SECRET_FIELD, secret)
    now = ctx.now()
    ctx.uow.outbox.save_endpoint(merchant_id, checked, sealed, now)
    ctx.audit("webhook.endpoint_registered", subject=merchant_id, details={"url": checked})
    return RegisteredEndpoint(merchant_id, checked, secret, now)


def endpoint_url(ctx: Context, merchant_id: str) -> str:
    found = ctx.uow.outbox.endpoint(merchant_id)
    if found is None:
        raise NotFound("this merchant has no webhook endpoint", code="resource_missing")
    return found[0]


def enqueue(ctx: Context, merchant_id: str, event_type: str, payload: dict[str, Any]) -> int:
    """Write an event to the outbox in the caller's unit of work; its sequence number.

    Events are kept for merchants without an endpoint too: they are delivered, in order,
    once one is registered."""
    if not event_type or len(event_type) > EVENT_TYPE_MAX:
        raise InvalidRequest("event type must be 1-80 characters", code="parameter_invalid")
    repo = ctx.uow.outbox
    sequence = repo.next_sequence(merchant_id)
    now = ctx.now()
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    event = OutboxEvent(timed_id("evt", now), merchant_id, sequence, event_type, body, now, 0, None)
    repo.add_event(event, next_attempt_at=now)
    return sequence


def undelivered_count(uow: UnitOfWork) -> int:
    """Events committed but not yet acknowledged by their receiver (the backlog gauge)."""
    return uow.outbox.undelivered_count()


def message_body(event: OutboxEvent) -> bytes:
    """What is posted: the event's envelope, as compact JSON (the signed bytes)."""
    envelope = {
        "id": event.id,
        "type": event.event_type,
        "sequence": event.sequence,
        "created_at": event.created_at.isoformat(),
        "data": json.loads(event.payload),
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `{timestamp}.{body}` under the endpoint's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(
    secret: str, timestamp: int, body: bytes, header: str, *, now: int, tolerance: int = 300
) -> bool:
    """What a receiver does: the timestamp is recent and one of the signatures matches
    (a comma-separated header may carry several during a secret rotation)."""
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))
