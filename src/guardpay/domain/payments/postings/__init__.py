"""Postings: the ledger transfers each kind of money movement writes, as pure functions.

One module per kind: `payments` (P2P and merchant payments), `review` (a payment held for
a risk review, then posted or voided), `refunds`, `escrow`, `red_packets` and `funding`
(bank-card top-up and withdrawal). Every function takes plain values, the ledger account
ids (resolved by the service, which opens accounts on first use), amounts in minor units,
the currency's ledger number and the transfer ids to use, and returns the list of
`Transfer`s to hand to the ledger in one request. No Context, no I/O, no SQLAlchemy: the
service decides the ids (`domain.ledger.ids.new_transfer_id`, or ids derived from a
funding id) and applies the set; `domain.payments.outcomes` turns the ledger's results
into the use case's refusal.

Every set balances by construction (each transfer debits one account and credits another
by the same amount), and a set of more than one transfer is a linked chain, every leg but
the last carrying `linked`, so the ledger applies all of it or none.
"""
