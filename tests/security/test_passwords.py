"""argon2id hashing: real argon2id, configurable cost, rehash on a cost change."""

from __future__ import annotations

from guardpay.security import passwords
from guardpay.security.passwords import CHEAP, OWASP, Argon2Params, SecretHasher


def test_hashes_are_argon2id_with_the_configured_cost() -> None:
    hashed = SecretHasher(CHEAP).hash("Tr1cky-Otter")
    assert hashed.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_the_default_meets_owasp() -> None:
    assert OWASP.memory_cost_kib >= 19 * 1024
    assert OWASP.time_cost >= 2
    assert passwords.hasher().params == OWASP or passwords.hasher().params == CHEAP


def test_verify_accepts_only_the_right_secret() -> None:
    h = SecretHasher(CHEAP)
    hashed = h.hash("Tr1cky-Otter")
    assert h.verify(hashed, "Tr1cky-Otter")
    assert not h.verify(hashed, "tr1cky-otter")
    assert not h.verify("not a hash", "Tr1cky-Otter")
    assert not h.verify("", "")


def test_salts_differ() -> None:
    h = SecretHasher(CHEAP)
    assert h.hash("730194") != h.hash("730194")


def test_full_width_input_verifies_against_the_half_width_hash() -> None:
    h = SecretHasher(CHEAP)
    assert h.verify(h.hash("730194"), "７３０１９４")


def test_a_hash_with_other_parameters_needs_rehash() -> None:
    cheap, stronger = SecretHasher(CHEAP), SecretHasher(Argon2Params(1, 16, 1))
    hashed = cheap.hash("Tr1cky-Otter")
    assert not cheap.needs_rehash(hashed)
    assert stronger.needs_rehash(hashed)
    assert stronger.verify(hashed, "Tr1cky-Otter")  # old hashes still verify
    assert cheap.needs_rehash("garbage")


def test_configure_and_using_swap_the_process_hasher() -> None:
    before = passwords.hasher().params
    with passwords.using(Argon2Params(1, 16, 1)) as h:
        assert passwords.hasher() is h
        assert h.params.memory_cost_kib == 16
    assert passwords.hasher().params == before


def test_burn_runs_a_verification_without_an_account() -> None:
    SecretHasher(CHEAP).burn("anything")  # no exception, no result
