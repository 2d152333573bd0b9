"""Lockout and rate-limit decisions over counts of recent failures.

Storage counts failures inside a window; these functions decide. A payment-password
failure that reaches the limit sets a lock until `now + lock_for`; the counter starts
again from zero after it (and after any correct payment password). Login limits are
checked before the password is, so a locked-out guesser learns nothing more.
"""

from __future__ import annotations

from datetime import datetime

from guardpay.domain.auth.settings import LoginLimits, PaymentLockout


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def lock_after_failure(
    failures_in_window: int, now: datetime, policy: PaymentLockout
) -> datetime | None:
    """`failures_in_window` counts this failure too; the lock end, or None."""
    if failures_in_window >= policy.max_failures:
        return now + policy.lock_for
    return None


def attempts_left(failures_in_window: int, policy: PaymentLockout) -> int:
    return max(0, policy.max_failures - failures_in_window)


def login_blocked(account_failures: int, ip_failures: int, limits: LoginLimits) -> bool:
    """True once either the account or the client address used up its failures."""
    return account_failures >= limits.per_account or ip_failures >= limits.per_ip
