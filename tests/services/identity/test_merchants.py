"""Merchants and second-level sub-merchants, on both backends."""

from __future__ import annotations

import pytest

from guardpay.services.identity.facade import (
    Merchant,
    add_sub_merchant,
    get_merchant,
    list_sub_merchants,
    register_merchant,
)
from guardpay.services.platform.context import Context
from guardpay.storage.engine.db import Database
from tests.domain.identity.numbers import uscc, wrong_check
from tests.services.identity.test_identity import Env

FOODMALL = uscc("91310115MA1H7XYR0")  # a Shanghai Pudong company
SHOP = uscc("92310115MA1K2ABC3")  # an individual business in the same district


@pytest.fixture
def env(db: Database) -> Env:
    return Env(db)


def register_foodmall(ctx: Context, registration: str = FOODMALL) -> Merchant:
    return register_merchant(
        ctx,
        legal_name="上海美食城电子商务有限公司",
        display_name="FoodMall",
        registration_number=registration,
        mcc="5411",
        settlement_account_id=7001,
    )


def platform(env: Env) -> str:
    return env.run(register_foodmall).id


def test_register_a_merchant(env: Env) -> None:
    merchant_id = platform(env)
    merchant = env.run(get_merchant, merchant_id)
    assert merchant.id.startswith("mer_")
    assert (merchant.display_name, merchant.descriptor, merchant.mcc) == (
        "FoodMall",
        "FoodMall",
        "5411",
    )
    assert (merchant.parent_id, merchant.status, merchant.settlement_account_id) == (
        None,
        "active",
        7001,
    )
    [(enc, index)] = env.rows("SELECT registration_enc, registration_index FROM merchants")
    assert FOODMALL not in enc
    assert len(index) == 64
    [(subject, outcome, _)] = env.audit("merchant.registered")
    assert (subject, outcome) == (merchant_id, "ok")


def test_one_merchant_per_registration_number(env: Env) -> None:
    platform(env)
    spaced = f"{FOODMALL[:9].lower()} {FOODMALL[9:]}"
    env.refused("merchant_already_registered", register_foodmall, spaced)


def test_sub_merchants_carry_their_name_into_payments(env: Env) -> None:
    parent = platform(env)
    shop = env.run(
        add_sub_merchant,
        parent,
        legal_name="张三小吃店",
        display_name="Zhang's Noodles",
        mcc="5812",
        registration_number=SHOP,
    )
    stall = env.run(
        add_sub_merchant, parent, legal_name="李四", display_name="Li's Tea", mcc="5814"
    )  # no registration number of its own
    assert shop.descriptor == "FoodMall-Zhang's Noodles"
    assert (shop.parent_id, stall.parent_id) == (parent, parent)
    assert {m.id for m in env.run(list_sub_merchants, parent)} == {shop.id, stall.id}
    env.refused(
        "invalid_parent_merchant",
        add_sub_merchant,
        shop.id,
        legal_name="x",
        display_name="x",
        mcc="5812",
    )  # no third level
    env.refused(
        "merchant_already_registered",
        add_sub_merchant,
        parent,
        legal_name="x",
        display_name="x",
        mcc="5812",
        registration_number=SHOP,
    )
    assert len(env.audit("merchant.sub_merchant_added")) == 2


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"registration_number": wrong_check(FOODMALL)}, "invalid_registration_number"),
        ({"registration_number": FOODMALL[:-1]}, "invalid_registration_number"),
        ({"mcc": "541"}, "invalid_mcc"),
        ({"mcc": "7995"}, "mcc_not_allowed"),
        ({"display_name": ""}, "invalid_merchant_name"),
        ({"legal_name": "x" * 101}, "invalid_merchant_name"),
        ({"settlement_account_id": 0}, "invalid_settlement_account"),
    ],
)
def test_registration_rejections_change_nothing(env: Env, kw: dict[str, object], code: str) -> None:
    args: dict[str, object] = {
        "legal_name": "上海美食城电子商务有限公司",
        "display_name": "FoodMall",
        "registration_number": FOODMALL,
        "mcc": "5411",
        **kw,
    }
    env.refused(code, register_merchant, **args)


def test_unknown_merchants(env: Env) -> None:
    env.refused("resource_missing", get_merchant, "mer_nobody")
    env.refused(
        "resource_missing",
        add_sub_merchant,
        "mer_nobody",
        legal_name="x",
        display_name="x",
        mcc="5812",
    )
