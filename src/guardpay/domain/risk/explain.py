"""A decision in plain words for the person it is about.

Reason codes are the rule sets' vocabulary; the payer is told what kind of signal
stopped them, never the score, the thresholds or the exact rule, which would teach a
fraudster the way around. Unknown codes (a new rule) fall back to a general sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

_SENTENCES: dict[str, str] = {
    "block": "An account, device or payee in this payment is on our block list.",
    "new_device": "It was made from a device we have not seen you use before.",
    "ato": "It came soon after a sign-in or credential change that looks unusual.",
    "scam": "It looks like a first large transfer to someone new, which is how most "
    "telecom and impersonation scams end. Nobody from a bank or the police will ever ask "
    "you to move money to a 'safe account'.",
    "mule": "The payee has received money from many new payers in a short time.",
    "card_testing": "There were many card attempts in a short time.",
    "declined": "Several recent attempts were refused.",
    "device_shared": "This device is used by many different accounts.",
    "new_account": "The account is new and the amount is large.",
    "qr": "The QR code led to a personal account rather than the shop's.",
    "structuring": "There were several payments just under a reporting threshold.",
    "travel": "It was made far from where you last paid, too soon to have travelled.",
    "velocity": "There were more payments than usual in a short time.",
    "model_high_score": "Our risk model found it unlike your usual payments.",
}
_ACTIONS = {
    "allow": "The payment went through normally.",
    "challenge": "We asked you to confirm it was you before continuing.",
    "review": "We are holding the money while a specialist checks it; it is released or "
    "returned to you, usually within 24 hours.",
    "deny": "We stopped this payment to protect your account.",
}
_GENERAL = "Something about it did not match how you usually pay."


def _sentence(reason: str) -> str:
    for key, sentence in _SENTENCES.items():
        if key in reason:
            return sentence
    return _GENERAL


def plain_words(action: str, reasons: Sequence[str]) -> list[str]:
    """What happened, then why, each sentence once."""
    out = [_ACTIONS.get(action, _GENERAL)]
    for reason in reasons:
        sentence = _sentence(reason)
        if sentence not in out:
            out.append(sentence)
    return out


def every_sentence() -> list[str]:
    """Every sentence `plain_words` may say (the screens translate each)."""
    return [*_ACTIONS.values(), *_SENTENCES.values(), _GENERAL]
