"""Authentication use cases, in one import: passwords, login, sessions, devices, step-up.

The implementation is split by topic (`auth_passwords`, `auth_login`, `auth_sessions`,
`auth_devices`, `auth_stepup`; operators and four-eyes approvals in `operators.py`);
callers import from here.

Failures carry state. A wrong password, a wrong step-up answer, a rate-limited attempt or
a new-device login records what happened (failure counters, the challenge, the pending
device, the audit entry) in the unit of work, keeps it (`UnitOfWork.keep`) and *then*
raises. Rolling that back would undo the lockout and lose the challenge the client must
answer, so the edge commits a kept unit of work before turning the error into a response
(api/deps.py `request_unit`); a refusal that kept nothing rolls back, whatever its class.
Every such path writes nothing but that bookkeeping.
"""

from __future__ import annotations

from guardpay.domain.auth.records import Device
from guardpay.domain.auth.sessions import IssuedSession, Session
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, AuthSettings
from guardpay.domain.auth.stepup import Challenge
from guardpay.services.auth.devices import (
    DeviceProof,
    PaymentSignature,
    TotpEnrolment,
    confirm_totp,
    enrol_totp,
    list_devices,
    register_device,
    revoke_device,
    verify_payment_signature,
)
from guardpay.services.auth.login import complete_login, login
from guardpay.services.auth.passwords import (
    PRECHECKED,
    PinCheck,
    change_login_password,
    change_payment_password,
    payment_locked_until,
    precheck_payment_password,
    set_login_password,
    set_payment_password,
    verify_login_password,
    verify_payment_password,
)
from guardpay.services.auth.sessions import (
    authenticate,
    issue_session,
    list_sessions,
    revoke_all_sessions,
    revoke_other_sessions,
    revoke_session,
)
from guardpay.services.auth.stepup import (
    begin_step_up,
    pass_own_step_up,
    pass_step_up,
    pending_challenges,
    redeem_step_up,
    send_sms_code,
    step_up,
)

__all__ = [
    "DEFAULT_SETTINGS",
    "PRECHECKED",
    "AuthSettings",
    "Challenge",
    "Device",
    "DeviceProof",
    "IssuedSession",
    "PaymentSignature",
    "PinCheck",
    "Session",
    "TotpEnrolment",
    "authenticate",
    "begin_step_up",
    "change_login_password",
    "change_payment_password",
    "complete_login",
    "confirm_totp",
    "enrol_totp",
    "issue_session",
    "list_devices",
    "list_sessions",
    "login",
    "pass_own_step_up",
    "pass_step_up",
    "payment_locked_until",
    "pending_challenges",
    "precheck_payment_password",
    "redeem_step_up",
    "register_device",
    "revoke_all_sessions",
    "revoke_device",
    "revoke_other_sessions",
    "revoke_session",
    "send_sms_code",
    "set_login_password",
    "set_payment_password",
    "step_up",
    "verify_login_password",
    "verify_payment_password",
    "verify_payment_signature",
]
