"""Every number the authentication rules use, in one frozen, overridable place.

Defaults follow the issue: 5 wrong payment passwords in 24 h lock paying for 3 h; failed
logins are limited to 5 per account and 20 per IP address in 15 minutes; sessions end
after 30 days idle or 30 days in all; SMS codes live 5 minutes and a challenge allows 5
wrong answers (and a user 10 wrong answers and 10 texts an hour across challenges).
Tests and deployments pass their own `AuthSettings` (e.g. `replace(DEFAULT, ...)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class PaymentLockout:
    max_failures: int = 5
    window: timedelta = timedelta(hours=24)
    lock_for: timedelta = timedelta(hours=3)


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 5
    per_ip: int = 20
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionPolicy:
    idle_timeout: timedelta = timedelta(days=30)
    absolute_timeout: timedelta = timedelta(days=30)
    # `last seen` is written at most this often, so authenticating stays a read mostly.
    touch_every: timedelta = timedelta(minutes=1)


#: a session begun in a browser (the console, the wallet): half an hour idle, 12 hours at
#: most, and its token never leaves the HttpOnly cookie
SCREEN_SESSIONS = SessionPolicy(timedelta(minutes=30), timedelta(hours=12))


@dataclass(frozen=True)
class StepUpPolicy:
    challenge_ttl: timedelta = timedelta(minutes=10)
    sms_code_ttl: timedelta = timedelta(minutes=5)
    max_attempts: int = 5  # wrong answers of any method; then the challenge is dead
    max_sms_sends: int = 3
    # Per user, across all their challenges, so opening new challenges buys no more
    # guesses at a TOTP code and no more texts to their phone.
    max_failures_per_user: int = 10
    max_sms_per_user: int = 10
    per_user_window: timedelta = timedelta(hours=1)
    totp_window: int = 1  # time steps either side of now
    # A passed challenge authorises its purpose (a payment, say) for this long, once.
    passed_valid_for: timedelta = timedelta(minutes=5)
    # A device's signed login proof may be this far from the server clock.
    device_clock_skew: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class AuthSettings:
    payment_lockout: PaymentLockout = field(default_factory=PaymentLockout)
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    step_up: StepUpPolicy = field(default_factory=StepUpPolicy)


DEFAULT_SETTINGS = AuthSettings()
SCREEN_SETTINGS = AuthSettings(sessions=SCREEN_SESSIONS)
