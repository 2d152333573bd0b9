"""The single writer's account cache: full, it forgets the accounts it has held longest,
not all of them at once (a million active accounts would otherwise be read back from
the database by every batch)."""

from __future__ import annotations

import gc

from guardpay.domain.ledger.model import Account
from guardpay.domain.ledger.work import BatchOutcome, LedgerView
from guardpay.storage.ledger import AccountCache


def _committed(cache: AccountCache, ids: range, clock: int) -> None:
    accounts = {i: Account(i, 156, 100) for i in ids}
    view = LedgerView(accounts, {}, {}, {}, now=clock, last_timestamp=clock - 1)
    outcome = BatchOutcome([], [], [], [], [], [], [], [], [], last_timestamp=clock)
    cache.committed(view, outcome)


def test_a_full_cache_forgets_its_oldest_accounts_and_keeps_the_newest() -> None:
    cache = AccountCache(max_accounts=10)
    _committed(cache, range(1, 9), clock=100)

    _committed(cache, range(9, 13), clock=200)

    assert len(cache.accounts) <= 10
    assert set(range(9, 13)) <= cache.accounts.keys()
    assert 1 not in cache.accounts
    assert 8 in cache.accounts
    assert cache.valid_at(200)


def test_the_cache_is_dropped_when_another_writer_moved_the_clock() -> None:
    cache = AccountCache(max_accounts=10)
    _committed(cache, range(1, 4), clock=100)

    assert not cache.valid_at(150)
    assert cache.accounts == {}


def test_cached_accounts_come_back_whole_and_the_collector_does_not_walk_them() -> None:
    cache = AccountCache(max_accounts=10)
    _committed(cache, range(1, 4), clock=100)

    gc.collect()

    assert cache.found([2, 7]) == {2: Account(2, 156, 100)}
    assert not any(gc.is_tracked(row) for row in cache.accounts.values())
