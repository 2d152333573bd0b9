"""Where webhooks may go: public addresses only, unless a deployment opts in.

A merchant chooses its endpoint's URL and the platform POSTs to it from inside its own
network, so an unchecked URL would let a merchant make the platform call what only the
platform can reach (SSRF): the cloud metadata service at 169.254.169.254, loopback,
private ranges. A destination is refused when its host is, or resolves to, any address
that is not globally routable: loopback, private, link-local, shared (100.64.0.0/10),
reserved, multicast or unspecified (an IPv4-mapped IPv6 address counts as its IPv4 one;
if a name has several addresses, every one must be public). It is checked twice:

- at registration (`check_host`, 400 `webhook_url_not_public`), so the merchant hears at
  once. A name that does not resolve within `resolve_seconds` is accepted (it may not be
  published yet; the lookup must not hold a request): delivery checks it again;
- at delivery (`pin`), the check that counts: the name is resolved again and the POST goes
  to the very address checked (the `Host` header and the TLS name stay the URL's), so a
  name re-pointed at an internal address after registration (DNS rebinding) reaches
  nothing. A refusal there is a failed attempt, recorded and retried like any other.

`GUARDPAY_WEBHOOK_ALLOW_PRIVATE=1` turns both checks off, for receivers on 127.0.0.1 (the
test suite, a developer's machine); config.py reads it (`Settings.webhook_allow_private`)
and `WebhookSettings.from_settings` carries it here. Never set it in production.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as LookupTimeout
from dataclasses import dataclass, field
from typing import Any

import httpx

from guardpay.config import Settings
from guardpay.errors import InvalidRequest, PermissionDenied, ServiceUnavailable

ALLOW_PRIVATE_ENV = "GUARDPAY_WEBHOOK_ALLOW_PRIVATE"  # the variable Settings reads it from
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Lookups at registration run here, so a slow resolver costs a request at most
#: `resolve_seconds` (the lookup itself finishes, or not, in the background).
_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


@dataclass(frozen=True)
class WebhookSettings:
    allow_private: bool = False  # True: no destination check at all (local receivers)
    resolve_seconds: float = 2.0  # how long registration waits for a name's addresses

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSettings:
        return cls(allow_private=settings.webhook_allow_private)


def is_public(address: Address) -> bool:
    """Whether the platform may send a webhook to this address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    internal = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )
    return address.is_global and not internal


def resolve(host: str, port: int) -> list[Address]:
    """The host itself if it is an address (no lookup), else the resolver's answer;
    raises OSError (or UnicodeError for a name no resolver can encode) without one."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0])) for info in found]


def check_host(host: str, port: int, settings: WebhookSettings) -> None:
    """At registration: refuse a host that is, or resolves to, an internal address."""
    if settings.allow_private:
        return
    lookup = _lookups.submit(resolve, host, port)
    try:
        addresses = lookup.result(timeout=settings.resolve_seconds)
    except (OSError, UnicodeError, ValueError, LookupTimeout):
        return  # not resolvable now: delivery resolves and checks again
    if not addresses or not all(is_public(a) for a in addresses):
        raise InvalidRequest(
            "the webhook URL's host is, or resolves to, a loopback, private, link-local or "
            "otherwise non-public address; webhooks are sent to public addresses only",
            code="webhook_url_not_public",
            param="url",
        )


@dataclass(frozen=True)
class Pinned:
    """What to send instead of the bare URL: the checked address, with the URL's host
    kept for the `Host` header and the TLS server name."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def pin(url: str, settings: WebhookSettings) -> Pinned:
    """At delivery: the URL rewritten to a public address of its host. Refused with
    `webhook_destination_refused` (or `webhook_host_unresolved`): a failed attempt for
    the worker to record."""
    if settings.allow_private:
        return Pinned(url)
    target = httpx.URL(url)
    try:
        addresses = resolve(target.host, target.port or (443 if target.scheme == "https" else 80))
    except (OSError, UnicodeError, ValueError) as exc:
        raise ServiceUnavailable(
            f"the webhook host did not resolve ({type(exc).__name__})",
            code="webhook_host_unresolved",
        ) from exc
    if not addresses or not all(is_public(a) for a in addresses):
        raise PermissionDenied(
            "the webhook host resolves to a non-public address", code="webhook_destination_refused"
        )
    host = target.netloc.decode("ascii")
    return Pinned(
        str(target.copy_with(host=str(addresses[0]))), {"Host": host}, {"sni_hostname": target.host}
    )
