"""Webhooks go to public addresses only, on both backends: an internal URL (loopback, cloud
metadata, private ranges, a name resolving there) is refused at registration with its
own code; delivery checks again and sends to the address it checked, so a name re-pointed
inside after registration (DNS rebinding) reaches nothing and the refusal is recorded as
a failed attempt; GUARDPAY_WEBHOOK_ALLOW_PRIVATE=1 lets local receivers in."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from guardpay.api.errors import status_of
from guardpay.config import Settings
from guardpay.errors import GuardpayError
from guardpay.services.platform.context import Context
from guardpay.services.webhooks import events as webhooks
from guardpay.services.webhooks import targets as webhooks_targets
from guardpay.services.webhooks.delivery import HttpxWebhookClient
from guardpay.services.webhooks.targets import ALLOW_PRIVATE_ENV, WebhookSettings, is_public, pin
from guardpay.storage.engine.db import Database
from tests.services.webhooks.fixtures import World

CHECKED = WebhookSettings()  # the default: internal addresses refused
PUBLIC = "93.184.216.34"
NAME = "hooks.shop.example"


@pytest.fixture
def world(db: Database) -> World:
    return World(db)


@pytest.fixture(autouse=True)
def no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)


def resolving(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> None:
    """Names in `table` resolve to its addresses, other names to nothing (as a resolver
    without network answers); address literals stay themselves, with no lookup."""
    real = webhooks_targets.resolve

    def fake(host: str, port: int) -> list[webhooks_targets.Address]:
        if host in table:
            return [ipaddress.ip_address(a) for a in table[host]]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, port)

    monkeypatch.setattr(webhooks_targets, "resolve", fake)


@pytest.fixture
def local_receiver() -> Iterator[tuple[list[str], int]]:
    """A real HTTP server on 127.0.0.1; (the paths it was sent, its port)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield hits, int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _register(world: World, url: str, settings: WebhookSettings | None = CHECKED) -> str:
    done = world.run(
        lambda ctx: webhooks.register_endpoint(ctx, world.merchant, url, settings=settings)
    )
    world.receiver.secret = done.secret
    return str(done.url)


# -- which addresses ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2001:db8::1",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


# -- at registration ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://127.0.0.1:8000/v1/bank/callbacks",
        "http://10.0.0.5/admin",
        "https://[::1]/hooks",
        "http://[::ffff:10.0.0.5]/",
        "http://0.0.0.0:8080/",
        "http://localhost:8000/hooks",
        "http://2130706433/hooks",  # 127.0.0.1 written as one number: the resolver reads it so
    ],
)
def test_an_internal_url_is_refused_at_registration_and_nothing_is_kept(
    world: World, url: str
) -> None:
    with pytest.raises(GuardpayError) as refused:
        _register(world, url)
    assert (refused.value.code, status_of(refused.value)) == ("webhook_url_not_public", 400)
    assert refused.value.param == "url"
    with pytest.raises(GuardpayError, match="no webhook endpoint"):
        world.run(lambda ctx: webhooks.endpoint_url(ctx, world.merchant))


@pytest.mark.parametrize("answer", [["10.1.2.3"], [PUBLIC, "169.254.169.254"]])
def test_a_name_resolving_to_any_internal_address_is_refused_without_saying_which(
    world: World, monkeypatch: pytest.MonkeyPatch, answer: list[str]
) -> None:
    resolving(monkeypatch, {NAME: answer})
    with pytest.raises(GuardpayError) as refused:
        _register(world, f"https://{NAME}/hooks")
    assert refused.value.code == "webhook_url_not_public"
    assert answer[-1] not in refused.value.message  # an internal name's address stays inside


def test_public_urls_are_accepted(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    resolving(monkeypatch, {NAME: [PUBLIC, "2606:4700:4700::1111"]})
    assert _register(world, f"https://{NAME}:8443/hooks") == f"https://{NAME}:8443/hooks"
    assert _register(world, f"http://{PUBLIC}/hooks") == f"http://{PUBLIC}/hooks"


def test_a_name_that_does_not_resolve_is_accepted_for_delivery_to_check(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not yet published, or no resolver at hand: registration cannot tell, delivery will."""
    resolving(monkeypatch, {})
    assert _register(world, "https://not-yet.shop.example/hooks").startswith("https://not-yet")


def test_a_slow_resolver_holds_registration_only_resolve_seconds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def stuck(host: str, port: int) -> list[webhooks_targets.Address]:
        release.wait(10)
        return [ipaddress.ip_address("10.0.0.1")]

    monkeypatch.setattr(webhooks_targets, "resolve", stuck)
    started = time.monotonic()
    try:
        _register(world, f"https://{NAME}/hooks", WebhookSettings(resolve_seconds=0.2))
    finally:
        release.set()
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("0", False),
        ("", False),
        ("no", False),
    ],
)
def test_the_opt_in_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, value)
    assert WebhookSettings.from_settings(Settings.from_environment()).allow_private is allowed


def test_with_the_opt_in_a_local_receiver_may_be_registered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://127.0.0.1:9000/hooks"
    with pytest.raises(GuardpayError, match="public addresses only"):
        _register(world, url, settings=None)  # the context's: the defaults, no opt-in
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    opted_in = Settings.from_environment()  # as an edge reads it, at its start

    def register(ctx: Context) -> str:
        ctx.settings = opted_in  # what the edge puts on every context it builds
        return str(webhooks.register_endpoint(ctx, world.merchant, url).url)

    assert world.run(register) == url


# -- at delivery -------------------------------------------------------------------------
def test_pin_sends_to_the_checked_address_under_the_urls_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolving(monkeypatch, {NAME: [PUBLIC]})
    pinned = pin(f"https://{NAME}:8443/hooks?x=1", CHECKED)
    assert pinned.url == f"https://{PUBLIC}:8443/hooks?x=1"
    assert pinned.headers == {"Host": f"{NAME}:8443"}
    assert pinned.extensions == {"sni_hostname": NAME}
    assert (
        pin("http://127.0.0.1/x", WebhookSettings(allow_private=True)).url == "http://127.0.0.1/x"
    )


def test_the_real_client_posts_to_the_pinned_address(monkeypatch: pytest.MonkeyPatch) -> None:
    resolving(monkeypatch, {NAME: [PUBLIC]})
    seen: list[httpx.Request] = []

    def network(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = HttpxWebhookClient(httpx.Client(transport=httpx.MockTransport(network)))
    assert client.post(f"https://{NAME}/hooks", b"{}", {"Guardpay-Sequence": "1"}) == 204
    (request,) = seen
    assert (request.url.host, request.headers["host"]) == (PUBLIC, NAME)
    assert request.extensions["sni_hostname"] == NAME
    assert request.headers["guardpay-sequence"] == "1"


def test_a_delivery_to_a_local_receiver_is_refused_and_recorded_without_the_opt_in(
    world: World, local_receiver: tuple[list[str], int]
) -> None:
    """Registered while allowed (or before this check existed): delivery refuses it."""
    hits, port = local_receiver
    _register(world, f"http://127.0.0.1:{port}/hooks", WebhookSettings(allow_private=True))
    (sequence,) = world.enqueue(1)
    assert world.worker(HttpxWebhookClient()).run_once() == 0
    (event,) = world.events()
    assert (event.sequence, event.attempts, event.delivered_at, hits) == (sequence, 1, None, [])
    assert world.attempts(event.id) == [(1, None, "webhook_destination_refused")]
    world.clock.advance(3600)  # retried later, like any failed attempt
    opted_in = HttpxWebhookClient(settings=WebhookSettings(allow_private=True))
    assert world.worker(opted_in).run_once() == 1  # the receiver itself was fine
    assert hits == ["/hooks"]


def test_a_name_rebound_to_an_internal_address_after_registration_reaches_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, local_receiver: tuple[list[str], int]
) -> None:
    hits, port = local_receiver
    resolving(monkeypatch, {NAME: [PUBLIC]})
    _register(world, f"http://{NAME}:{port}/hooks")  # public when registered
    resolving(monkeypatch, {NAME: ["127.0.0.1"]})  # then re-pointed at the platform itself
    world.enqueue(1)
    assert world.worker(HttpxWebhookClient()).run_once() == 0
    (event,) = world.events()
    assert world.attempts(event.id) == [(1, None, "webhook_destination_refused")]
    assert hits == []
