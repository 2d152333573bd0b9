"""The OpenAPI document tells the truth: schemathesis drives every operation in-process
(ASGI) with generated requests, valid and invalid, signed in as a real user (verified,
funded, with a payment password and a trusted device), and checks each answer against
the document: no 5xx, a documented status, the documented content type, a body that
matches the documented schema, and the documented response headers.

Each operation gets a user of its own, so what one operation does to its user (a wrong
payment password locking payments, a session revoked) cannot leave a later operation
testing nothing but 401s and 403s. SQLite: the backend is not under test here.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from guardpay.adapters.bank import FakeBank
from guardpay.adapters.kyc import Kyc
from guardpay.adapters.sms import FakeSms
from guardpay.api import idempotency
from guardpay.api.app import create_app
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import upgrade
from tests.api.api_fixtures import RAISE, Api, Clock
from tests.api.test_payments_api import payer
from tests.domain.identity.numbers import resident_id

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 50  # generated requests per operation (Hypothesis's max_examples)


#: The app under test, built at import as schemathesis loads its document then (one
#: pytest item per operation); its database is a scratch SQLite file, removed after.
_SCRATCH = Path(tempfile.mkdtemp(prefix="guardpay-openapi-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)  # if the tests never ran
DB = Database(f"sqlite:///{_SCRATCH / 'guardpay.db'}")
upgrade(DB)
KEYRING, KYC, SMS, CLOCK = Keyring.generate(), Kyc.fakes(), FakeSms(), Clock()
# An explicit bank is not pumped (the test client and schemathesis each run the
# lifespan); with its callback secret, as a deployment with a bank has one.
APP = create_app(
    DB,
    keyring=KEYRING,
    kyc=KYC,
    sms=SMS,
    clock=CLOCK,
    bank=FakeBank(),
    bank_secret="conformance-bank-secret",
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@dataclass
class Run:
    """What the run did: requests per operation, and since when."""

    started: float = field(default_factory=time.perf_counter)
    requests: dict[str, int] = field(default_factory=dict)
    users: int = 0


@pytest.fixture(name="served", scope="module")
def served_fixture() -> Iterator[tuple[Api, Run]]:
    run = Run()
    with (
        passwords.using(passwords.CHEAP),
        TestClient(APP, raise_server_exceptions=RAISE) as client,
    ):
        yield Api(client, DB, KEYRING, KYC, SMS, CLOCK), run
    shutdown_lifespans()
    DB.dispose()
    shutil.rmtree(_SCRATCH, ignore_errors=True)
    print(
        f"\nschemathesis: {len(run.requests)} operations, {sum(run.requests.values())} "
        f"requests, {time.perf_counter() - run.started:.0f} s"
    )


@pytest.fixture(name="token")
def token_fixture(served: tuple[Api, Run]) -> str:
    """A fresh user for each operation: signed in, verified, funded, with a payment
    password and a trusted device."""
    api, run = served
    run.users += 1
    # a day on: the previous operation's failed logins (the same client address) are
    # past their rate limit
    api.clock.advance(days=1)
    phone = f"139{run.users:08d}"
    return payer(
        api, phone, resident_id("310104", "19900307", f"{run.users:03d}"), fund=1_000_00
    ).token


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is shown as found
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, token: str, served: tuple[Api, Run]
) -> None:
    run = served[1]
    run.requests[case.operation.label] = run.requests.get(case.operation.label, 0) + 1
    _key_of_its_own(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def _key_of_its_own(case: schemathesis.Case) -> None:
    """Hypothesis draws Idempotency-Keys from a small space ("0" again and again), so
    most keyed requests would be refused as 400 `idempotency_key_reused` before their
    endpoint runs. A key gets the digest of the rest of the request appended: other
    requests run, the same request with the same key is still replayed."""
    key = (case.headers or {}).get(idempotency.HEADER)
    if isinstance(key, str) and key.strip() and len(key) <= idempotency.KEY_MAX - 13:
        request = repr((case.path_parameters, case.query, case.body))
        digest = hashlib.sha256(request.encode()).hexdigest()[:12]
        case.headers[idempotency.HEADER] = f"{key}.{digest}"
