"""Every table of the platform, in one `metadata`: the ledger's and the platform's own
(storage/schema.py) and those the repositories declare beside themselves. The migration
check and anything else that needs the whole schema imports `metadata` from here."""

from guardpay.storage import (
    auth,
    encrypted,
    escrow,
    funding,
    idempotency,
    identity,
    merchant_api,
    outbox,
    payments,
    red_packets,
    refunds,
    risk,
    wallets,
)
from guardpay.storage.encrypted import EncryptedColumn
from guardpay.storage.schema import metadata

#: the repositories whose tables `metadata` holds once this module is imported
REPOSITORIES = (
    auth,
    escrow,
    funding,
    idempotency,
    identity,
    merchant_api,
    outbox,
    payments,
    red_packets,
    refunds,
    risk,
    wallets,
)


def encrypted_columns() -> list[EncryptedColumn]:
    """Every encrypted column of every table (each repository registers its own on
    import, and all are imported here): what key rotation must re-encrypt."""
    return list(encrypted.REGISTRY)


__all__ = ["REPOSITORIES", "encrypted_columns", "metadata"]
