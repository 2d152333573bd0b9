"""Kill -9 a server in the middle of micro-batches of payments, on both backends: no
payment it acknowledged is lost, none is half-applied (a payment row without its ledger
transfer or the reverse), and `ledger verify`, `reconcile reserve` and `audit verify`
are clean afterwards."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

from guardpay.security import devices
from guardpay.security.keys import Keyring
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import reconcile, wallets
from guardpay.services.platform import audit
from guardpay.services.platform.context import SYSTEM, Context, utc_now
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only
from tests.api.test_one_user_floods_the_server import FUNDS, World, _serve, _world

SENT = 120
KILL_AFTER = 25  # answers seen before the kill: the rest are in flight or queued


async def _pay_then_kill(
    base: str, world: World, server: subprocess.Popen[bytes]
) -> list[httpx.Response]:
    """Send every payment at once; SIGKILL the server once KILL_AFTER were answered.
    The answers that arrived (the others died with the server)."""
    answered: list[httpx.Response] = []
    limits = httpx.Limits(max_connections=SENT + 5, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:

        async def pay(i: int) -> None:
            key = uuid.uuid4().hex
            body = json.dumps({"payee": world.payee, "amount": 100 + i}).encode()
            at = int(time.time())
            message = devices.payment_message(at, key, "POST", "/v1/transfers", body)
            headers = {
                "Authorization": f"Bearer {world.payer_token}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
                "Payment-Signature": f"t={at}, sig={devices.b64url(world.phone.sign(message))}",
            }
            try:
                r = await client.post("/v1/transfers", content=body, headers=headers)
            except httpx.TransportError:
                return  # in flight when the server died: never acknowledged
            answered.append(r)
            if len(answered) == KILL_AFTER:
                server.send_signal(signal.SIGKILL)

        await asyncio.gather(*(pay(i) for i in range(SENT)))
    return answered


def test_a_killed_server_loses_no_acknowledged_payment_and_half_applies_none(
    db: Database, tmp_path: Path
) -> None:
    keyring = Keyring.generate()
    world = _world(db, keyring)
    with read_only(db) as uow:  # the seeded top-up is not a funding: compare, not ok
        reserve_before = reconcile.reserve(uow).as_dict()
    server, base = _serve(db, keyring, tmp_path)
    try:
        answered = asyncio.run(_pay_then_kill(base, world, server))
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(timeout=30)
    acknowledged = {r.json()["id"]: r.json()["status"] for r in answered if r.status_code == 201}
    assert len(answered) >= KILL_AFTER
    assert acknowledged
    with db.read() as conn:
        stored = dict(
            (str(i), str(s))
            for i, s in conn.execute(text("SELECT id, status FROM payments WHERE kind = 'p2p'"))
        )
        paid = conn.execute(
            text("SELECT coalesce(sum(amount), 0) FROM payments WHERE status = 'succeeded'")
        ).scalar_one()
    for payment_id, status in acknowledged.items():
        assert stored.get(payment_id) == status  # acknowledged: committed
    with read_only(db) as uow:
        assert ledger.verify(uow).ok
        assert reconcile.reserve(uow).as_dict() == reserve_before
        assert audit.verify(uow).ok
        ctx = Context(uow, keyring, SYSTEM, utc_now)
        payer = wallets.find(ctx, "user", world.payer, "CNY")
        assert payer is not None
        # every succeeded payment moved its money and no money moved without one
        assert wallets.balance(ctx, payer, "CNY").amount == FUNDS - int(paid)
