"""Transfer ids for money movements that have no natural key.

A transfer's id is its idempotency key (DESIGN.md "The ledger"), so a use case that
writes a payment, a refund, an escrow or red-packet move or a review post/void draws a
fresh one per leg from the OS CSPRNG: ids nobody can guess or make collide. (Top-ups and
withdrawals derive theirs from the funding id instead, `postings.funding.transfer_id`,
so a retried bank callback repeats the very same events.)
"""

from __future__ import annotations

import secrets


def new_transfer_id() -> int:
    """A random id in [1, 2^63 - 2]: never 0 and never INT64_MAX, the two ids the ledger
    refuses (`id_must_not_be_zero`, `id_must_not_be_int_max`)."""
    return secrets.randbelow(2**63 - 2) + 1
