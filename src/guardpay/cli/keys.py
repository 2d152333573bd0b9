"""`guardpay keys rotate`: move to the newest master key, and optionally new data keys;
`guardpay keys rotate-qr`: a new version of the platform's QR signing key."""

from __future__ import annotations

import typer

from guardpay.cli.context import console, emit_json, state
from guardpay.services.payments import qr as payments_qr
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.services.platform.keys import rewrap_all, rotate_data_keys
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import unit_of_work

app = typer.Typer(no_args_is_help=True, help="Encryption keys for personal data.")


@app.command()
def rotate(
    ctx: typer.Context,
    data_keys: bool = typer.Option(
        False, "--data-keys", help="Also give every person a new data key and re-encrypt."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-wrap every data key under the newest master key in GUARDPAY_MASTER_KEYS; with
    --data-keys, re-encrypt every personal field under new per-person keys. Online: short
    transactions, old and new keys readable side by side until the end."""
    cli = state(ctx)
    db, keyring = cli.database(), cli.keyring()
    require_migrated(db)
    result: dict[str, int] = {"master_version": keyring.active_version}
    result["rewrapped"] = rewrap_all(db, keyring)
    if data_keys:
        result.update(rotate_data_keys(db, keyring).as_dict())
    if json_out:
        emit_json(result)
    else:
        console.print(", ".join(f"{k}: {v}" for k, v in result.items()))


@app.command("rotate-qr")
def rotate_qr(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Sign new merchant QR codes under a new version of the platform's QR key. Codes
    already printed or shown stay valid under the version that signed them."""
    cli = state(ctx)
    db, keyring = cli.database(), cli.keyring()
    require_migrated(db)
    with unit_of_work(db) as uow:
        version = payments_qr.rotate_key(Context(uow, keyring, SYSTEM))
    if json_out:
        emit_json({"qr_key_version": version})
    else:
        console.print(f"new merchant QR codes are signed with QR key version {version}")
