"""Identity documents and names: real-looking good and bad inputs, each with its code."""

from __future__ import annotations

from datetime import date

import pytest

from guardpay.domain.identity.documents import (
    DocumentType,
    check_passport,
    normalize_name,
    parse_document,
    parse_permanent_resident_id,
    parse_resident_id,
)
from guardpay.errors import InvalidRequest
from tests.domain.identity.numbers import iso7064_mod11_2, resident_id, wrong_check

TODAY = date(2026, 11, 21)


def code_of(fn: object, *args: object) -> str:
    with pytest.raises(InvalidRequest) as refused:
        fn(*args)  # type: ignore[operator]
    assert refused.value.param in ("document_number", "document_type", "name")
    return refused.value.code


@pytest.mark.parametrize(
    ("region", "birth", "seq", "sex"),
    [
        ("110105", "19900307", "123", "male"),  # Beijing Chaoyang
        ("310104", "20010101", "004", "female"),  # Shanghai Xuhui
        ("440305", "19751129", "888", "female"),  # Shenzhen Nanshan
        ("650102", "19880229", "017", "male"),  # Urumqi, born on a leap day
        ("810000", "19990630", "321", "male"),  # a Hong Kong resident's residence permit
    ],
)
def test_valid_resident_ids_parse(region: str, birth: str, seq: str, sex: str) -> None:
    number = resident_id(region, birth, seq)
    parsed = parse_resident_id(number, TODAY)
    assert parsed.number == number
    assert parsed.region_code == region
    assert parsed.birth_date == date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    assert parsed.sex == sex


def test_spellings_are_normalised() -> None:
    number = "11010519491231002X"  # GB 11643's own example, check character X
    assert parse_resident_id("11010519491231002x", TODAY).number == number
    assert parse_resident_id(" 110105 19491231 002X ", TODAY).number == number
    assert parse_resident_id("１１０１０５１９４９１２３１００２Ｘ", TODAY).number == number


def test_a_valid_number_with_a_wrong_check_digit_is_refused() -> None:
    good = resident_id("110105", "19900307", "123")
    assert code_of(parse_resident_id, wrong_check(good), TODAY) == "id_number_check_digit_mismatch"
    # a transposition of two digits is caught by the check digit too
    swapped = good[:14] + good[15] + good[14] + good[16:]
    assert swapped != good
    assert code_of(parse_resident_id, swapped, TODAY) == "id_number_check_digit_mismatch"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "11010519900307123",  # 17 characters
        "1101051990030712345",  # 19
        "11010519900307123Y",  # check character neither digit nor X
        "X10105199003071234",  # X anywhere but last
        "110105 1990 0307 12",  # too short once spaces go
        "11010519900307123\u0663",  # an Arabic-Indic digit
    ],
)
def test_malformed_numbers(bad: str) -> None:
    assert code_of(parse_resident_id, bad, TODAY) == "invalid_id_number"


@pytest.mark.parametrize(
    "region", ["000000", "010105", "190105", "240105", "550105", "990105", "700000", "840000"]
)
def test_regions_that_do_not_exist(region: str) -> None:
    number = resident_id(region, "19900307", "123")
    assert code_of(parse_resident_id, number, TODAY) == "id_number_region_invalid"


@pytest.mark.parametrize(
    "birth",
    [
        "19900230",  # 30 February
        "19900001",  # month 0
        "19901301",  # month 13
        "19900431",  # 31 April
        "19000229",  # 1900 was not a leap year
        "20261122",  # tomorrow
        "20270101",  # next year
        "18750101",  # more than 150 years ago
    ],
)
def test_birth_dates_that_cannot_be(birth: str) -> None:
    number = resident_id("110105", birth, "123")
    assert code_of(parse_resident_id, number, TODAY) == "id_number_birth_date_invalid"


def test_birth_date_edges() -> None:
    assert parse_resident_id(resident_id("110105", "20261121"), TODAY).birth_date == TODAY
    # 150 years old until the 151st birthday
    assert parse_resident_id(resident_id("110105", "18751122"), TODAY).birth_date.year == 1875
    too_old = resident_id("110105", "18751121")  # 151 today
    assert code_of(parse_resident_id, too_old, TODAY) == "id_number_birth_date_invalid"


def test_messages_never_contain_the_number() -> None:
    for bad in (wrong_check(resident_id()), resident_id("990105"), resident_id(birth="19900230")):
        with pytest.raises(InvalidRequest) as refused:
            parse_resident_id(bad, TODAY)
        assert bad not in refused.value.message
        assert bad[6:14] not in refused.value.message


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("E12345678", "CN"),
        ("EA1234567", "CHN"),
        ("EH9876543", "CN"),
        ("G12345678", "CN"),
        ("e12345678", "cn"),
        ("123456789", "US"),  # US passports: 9 digits
        ("C01X00T47", "DE"),  # German passports mix letters and digits
        ("X1234567", None),
        ("AB12345", None),
    ],
)
def test_passports(number: str, country: str | None) -> None:
    assert check_passport(number, country) == number.upper()


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("E1234", "CN"),
        ("EI1234567", "CN"),  # no I in the series letter
        ("EO1234567", "CN"),
        ("D12345678", "CN"),
        ("E123456789", "CN"),
        ("A123", None),  # too short
        ("ABCDEFGH", None),  # no digit at all
        ("A1234567890123456789", None),  # 20 characters
        ("E1234567#", None),
    ],
)
def test_bad_passports(number: str, country: str | None) -> None:
    assert code_of(check_passport, number, country) == "invalid_passport_number"


def test_permanent_resident_ids() -> None:
    # 2017 card: nationality, province, YYMMDD, sequence, check digit (not verified)
    assert parse_permanent_resident_id("USA318806120115", TODAY) == (
        "USA318806120115",
        date(1988, 6, 12),
    )
    assert parse_permanent_resident_id("GBR110512243151", TODAY)[1] == date(2005, 12, 24)
    # 2023 card: 9, province, nationality code, YYYYMMDD, sequence, GB 11643 check
    body = "931840" + "19880612" + "001"
    number = body + iso7064_mod11_2(body)
    assert parse_permanent_resident_id(number, TODAY) == (number, date(1988, 6, 12))
    assert code_of(parse_permanent_resident_id, wrong_check(number), TODAY) == (
        "id_number_check_digit_mismatch"
    )


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("US3188061201155", "invalid_id_number"),  # 2 letters
        ("USA31880612011", "invalid_id_number"),  # 14 characters
        ("USA998806120115", "id_number_region_invalid"),
        ("USA318813120115", "id_number_birth_date_invalid"),  # month 13
        ("9318401988061200", "invalid_id_number"),
        ("999840198806120011", "id_number_region_invalid"),
    ],
)
def test_bad_permanent_resident_ids(number: str, code: str) -> None:
    assert code_of(parse_permanent_resident_id, number, TODAY) == code


def test_parse_document_dispatches_by_type() -> None:
    rid = parse_document("resident_id", resident_id(), TODAY)
    assert (rid.type, rid.country, rid.birth_date) == (
        DocumentType.RESIDENT_ID,
        "CN",
        date(1990, 3, 7),
    )
    passport = parse_document("passport", "e12345678", TODAY, "cn")
    assert (passport.type, passport.number, passport.country) == (
        DocumentType.PASSPORT,
        "E12345678",
        "CN",
    )
    pr = parse_document("permanent_resident_id", "USA318806120115", TODAY)
    assert pr.type is DocumentType.PERMANENT_RESIDENT_ID
    assert code_of(parse_document, "drivers_license", "123", TODAY) == "invalid_document_type"


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("张三", "张三"),
        ("  欧阳  娜娜 ", "欧阳 娜娜"),
        ("买买提·艾力", "买买提·艾力"),
        ("买买提•艾力", "买买提·艾力"),  # a bullet typed for the middle dot
        ("John Smith", "John Smith"),
        ("Seán O'Brien-Murphy", "Seán O'Brien-Murphy"),
        ("Ｊｏｈｎ", "John"),
    ],
)
def test_names(raw: str, name: str) -> None:
    assert normalize_name(raw) == name


@pytest.mark.parametrize("bad", ["", "   ", "张3", "·张三", "John <script>", "A" * 65, "Smith\x00"])
def test_bad_names(bad: str) -> None:
    assert code_of(normalize_name, bad) == "invalid_name"
