"""Every table of the platform, in one `metadata`: the ledger's and the platform's own
(storage/schema.py) and those the repositories declare beside themselves. The migration
check, key rotation and anything else that needs the whole schema imports it from here."""

from importlib import import_module

from guardpay.storage import encrypted
from guardpay.storage.encrypted import EncryptedColumn
from guardpay.storage.schema import metadata

#: the repositories that declare tables of their own; importing them fills `metadata`
#: and registers their encrypted columns
REPOSITORIES = tuple(
    import_module(f"guardpay.storage.{name}")
    for name in (
        "aml",
        "auth",
        "cases",
        "escrow",
        "funding",
        "idempotency",
        "identity",
        "merchant_api",
        "outbox",
        "payments",
        "red_packets",
        "refunds",
        "reports",
        "risk",
        "wallets",
    )
)


def encrypted_columns() -> list[EncryptedColumn]:
    """Every encrypted column of every table: what key rotation must re-encrypt."""
    return list(encrypted.REGISTRY)


__all__ = ["REPOSITORIES", "encrypted_columns", "metadata"]
