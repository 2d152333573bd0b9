"""The SMS fake: an outbox a test can read, and failures on demand."""

from __future__ import annotations

import pytest

from guardpay.adapters.sms import FakeSms, SmsSender
from guardpay.errors import ServiceUnavailable


def test_the_outbox_keeps_messages_and_finds_the_code() -> None:
    sms = FakeSms()
    sender: SmsSender = sms
    sender.send("+8613812345678", "guardpay code 042917, valid 5 minutes")
    sender.send("+8613900001111", "guardpay code 555123, valid 5 minutes")
    assert [m.phone for m in sms.outbox] == ["+8613812345678", "+8613900001111"]
    assert sms.last_code("+8613812345678") == "042917"
    assert sms.last_code("+8613700000000") is None
    assert "042917" not in repr(sms.outbox)
    assert "13812345678" not in repr(sms.outbox)


def test_it_can_be_told_to_fail() -> None:
    sms = FakeSms(fail_next=1)
    with pytest.raises(ServiceUnavailable) as failed:
        sms.send("+8613812345678", "code 042917")
    assert failed.value.code == "sms_unavailable"
    sms.send("+8613812345678", "code 042917")
    assert len(sms.outbox) == 1
