"""Identity use cases, in one place for the edges: people, merchants, cards, privacy.

Each lives in its own module (`identity_users`, `identity_cards`, `identity_merchants`,
`identity_privacy`) to stay small; import from here. Every function takes the request's
`Context` (one unit of work; never commits). Those that call outside verification
services take a `Kyc` bundle of adapters (adapters/kyc.py) as their second argument,
so the edge decides between the real services and the in-process fakes.
"""

from __future__ import annotations

from guardpay.services.identity.cards import BankCard, bind_card, list_cards, unbind_card
from guardpay.services.identity.common import ERASED
from guardpay.services.identity.merchants import (
    Merchant,
    add_staff,
    add_sub_merchant,
    get_merchant,
    list_sub_merchants,
    register_merchant,
    remove_staff,
    shops_of,
)
from guardpay.services.identity.privacy import erase_person, export_person, reveal_field
from guardpay.services.identity.users import (
    CardEvidence,
    Evidence,
    Standing,
    User,
    VerificationResult,
    account_standing,
    get_user,
    person_accounts,
    register_user,
    verify_identity,
)

__all__ = [
    "ERASED",
    "BankCard",
    "CardEvidence",
    "Evidence",
    "Merchant",
    "Standing",
    "User",
    "VerificationResult",
    "account_standing",
    "add_staff",
    "add_sub_merchant",
    "bind_card",
    "erase_person",
    "export_person",
    "get_merchant",
    "get_user",
    "list_cards",
    "list_sub_merchants",
    "person_accounts",
    "register_merchant",
    "register_user",
    "remove_staff",
    "reveal_field",
    "shops_of",
    "unbind_card",
    "verify_identity",
]
