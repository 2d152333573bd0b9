"""config.py: one typed `Settings`, read from the environment in one place only.

Defaults, every variable parsed, booleans and numbers, a bad value refused by its
variable's name (its value quoted only when it is not a secret), secrets out of the repr,
the variable names the other modules use, and no other module reading the environment."""

from __future__ import annotations

import ast
import base64
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from guardpay import config, observability
from guardpay.adapters import bank, sms
from guardpay.api import app as api_app
from guardpay.api import idempotency, metrics
from guardpay.config import Settings, SettingsError, env_name
from guardpay.security import keys
from guardpay.services.risk import engine
from guardpay.services.webhooks import targets

SRC = Path(config.__file__).parent
README = SRC.parents[1] / "README.md"
KEY_1 = base64.b64encode(bytes(range(32))).decode()
KEY_2 = base64.b64encode(bytes(range(32, 64))).decode()

#: a value for every variable, none of them the default
EVERYTHING = {
    "GUARDPAY_DATABASE_URL": "postgresql://guardpay:db-pass-1@db.internal/guardpay",
    "GUARDPAY_MASTER_KEYS": f"1:{KEY_1},2:{KEY_2}",
    "GUARDPAY_SMS_BACKEND": "twilio",
    "GUARDPAY_TWILIO_ACCOUNT_SID": "ACtest0123",
    "GUARDPAY_TWILIO_AUTH_TOKEN": "twilio-token-s3cret",
    "GUARDPAY_TWILIO_FROM": "+15005550006",
    "GUARDPAY_TWILIO_BASE_URL": "http://127.0.0.1:9999",
    "GUARDPAY_BANK_ADAPTER": "acme_bank.channel:make",
    "GUARDPAY_BANK_CALLBACK_SECRET": "bank-secret-s3cret",
    "GUARDPAY_METRICS_TOKEN": "scrape-token-s3cret",
    "GUARDPAY_REDIS_URL": "redis://:redis-pass-1@cache.internal:6379/0",
    "GUARDPAY_REDIS_PREFIX": "staging:risk:",
    "GUARDPAY_RISK_RULES": "/etc/guardpay/rules.yaml",
    "GUARDPAY_AML_MODEL": "/etc/guardpay/aml-model",
    "GUARDPAY_RISK_REVIEW_HOURS": "2.5",
    "GUARDPAY_IDEMPOTENCY_REQUIRED": "1",
    "GUARDPAY_LOG_LEVEL": "INFO",
    "GUARDPAY_LOG_FORMAT": "json",
    "GUARDPAY_WEBHOOK_ALLOW_PRIVATE": "yes",
    "GUARDPAY_SECURE_COOKIES": "true",
    "GUARDPAY_TEST_POSTGRES_URL": "postgresql://postgres:pg-pass-1@127.0.0.1:5432/other",
}
SECRETS = ("db-pass-1", KEY_1, "twilio-token-s3cret", "bank-secret-s3cret", "scrape-token")
SECRETS += ("redis-pass-1", "pg-pass-1")


def test_every_field_is_a_variable_listed_in_the_docstring_and_the_readme() -> None:
    names = {env_name(field) for field in Settings.model_fields}
    assert names == set(EVERYTHING)
    documented = README.read_text()
    for name in names:
        assert name in (config.__doc__ or ""), name
        assert name in documented, name


def test_defaults() -> None:
    s = Settings.from_environment({})
    assert s == Settings()
    assert s.database_url == "sqlite:///guardpay-data/guardpay.db"
    assert s.master_keys is None
    assert (s.sms_backend, s.twilio_account_sid, s.twilio_auth_token, s.twilio_from) == (
        None,
        None,
        None,
        None,
    )
    assert s.twilio_base_url == "https://api.twilio.com"
    assert (s.bank_adapter, s.bank_callback_secret, s.metrics_token) == (None, None, None)
    assert (s.redis_url, s.redis_prefix, s.risk_rules) == (None, "guardpay:risk:", None)
    assert s.aml_model is None
    assert s.risk_review_hours == 24.0
    assert s.idempotency_required is False
    assert (s.log_level, s.log_format) == ("warning", "console")
    assert s.webhook_allow_private is False
    assert s.secure_cookies is False
    assert s.test_postgres_url == "postgresql://postgres@127.0.0.1:5432/test"


def test_every_variable_is_parsed() -> None:
    s = Settings.from_environment(EVERYTHING)
    assert s.database_url == EVERYTHING["GUARDPAY_DATABASE_URL"]
    assert isinstance(s.master_keys, SecretStr)
    assert s.master_keys.get_secret_value() == f"1:{KEY_1},2:{KEY_2}"
    assert s.sms_backend == "twilio"
    assert s.twilio_account_sid == "ACtest0123"
    assert isinstance(s.twilio_auth_token, SecretStr)
    assert s.twilio_auth_token.get_secret_value() == "twilio-token-s3cret"
    assert s.twilio_from == "+15005550006"
    assert s.twilio_base_url == "http://127.0.0.1:9999"
    assert s.bank_adapter == "acme_bank.channel:make"
    assert isinstance(s.bank_callback_secret, SecretStr)
    assert s.bank_callback_secret.get_secret_value() == "bank-secret-s3cret"
    assert isinstance(s.metrics_token, SecretStr)
    assert s.metrics_token.get_secret_value() == "scrape-token-s3cret"
    assert s.redis_url == EVERYTHING["GUARDPAY_REDIS_URL"]
    assert s.redis_prefix == "staging:risk:"
    assert s.risk_rules == Path("/etc/guardpay/rules.yaml")
    assert s.aml_model == Path("/etc/guardpay/aml-model")
    assert s.risk_review_hours == 2.5
    assert s.idempotency_required is True
    assert (s.log_level, s.log_format) == ("info", "json")
    assert s.webhook_allow_private is True
    assert s.secure_cookies is True
    assert s.test_postgres_url == EVERYTHING["GUARDPAY_TEST_POSTGRES_URL"]


def test_the_process_environment_is_read_by_from_environment_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUARDPAY_RISK_REVIEW_HOURS", "6")
    monkeypatch.setenv("GUARDPAY_LOG_LEVEL", "error")
    assert Settings.from_environment().risk_review_hours == 6.0
    assert Settings.from_environment().log_level == "error"
    assert Settings() == Settings.from_environment({})  # a plain Settings(): the defaults


def test_empty_or_blank_is_unset() -> None:
    blank = {name: "" for name in EVERYTHING}
    assert Settings.from_environment(blank) == Settings()
    spaces = Settings.from_environment(
        {"GUARDPAY_SMS_BACKEND": "  ", "GUARDPAY_BANK_ADAPTER": " ", "GUARDPAY_REDIS_URL": " "}
    )
    assert (spaces.sms_backend, spaces.bank_adapter, spaces.redis_url) == (None, None, None)


@pytest.mark.parametrize(
    "variable", ["GUARDPAY_IDEMPOTENCY_REQUIRED", "GUARDPAY_WEBHOOK_ALLOW_PRIVATE"]
)
@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("1", True),
        ("true", True),
        ("yes", True),
        ("TRUE", True),
        (" Yes ", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("", False),
    ],
)
def test_booleans(variable: str, value: str, parsed: bool) -> None:
    field = variable.removeprefix("GUARDPAY_").lower()
    assert getattr(Settings.from_environment({variable: value}), field) is parsed


@pytest.mark.parametrize("value", ["2", "on", "enabled", "y"])
def test_a_boolean_that_is_not_one_is_refused_by_name(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({"GUARDPAY_WEBHOOK_ALLOW_PRIVATE": value})
    said = str(refused.value)
    assert said.startswith("GUARDPAY_WEBHOOK_ALLOW_PRIVATE: ")
    assert "1, true or yes" in said
    assert repr(value) in said  # not a secret: the value helps


@pytest.mark.parametrize(("value", "hours"), [("24", 24.0), ("0.5", 0.5), (" 48 ", 48.0)])
def test_review_hours_are_a_number(value: str, hours: float) -> None:
    assert Settings.from_environment({"GUARDPAY_RISK_REVIEW_HOURS": value}).risk_review_hours == (
        hours
    )


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan", "1e9"])
def test_review_hours_must_be_positive_and_sane(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^GUARDPAY_RISK_REVIEW_HOURS: "):
        Settings.from_environment({"GUARDPAY_RISK_REVIEW_HOURS": value})


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GUARDPAY_LOG_LEVEL", "loud"), ("GUARDPAY_LOG_FORMAT", "xml")],
)
def test_log_choices_are_literals(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: ") as refused:
        Settings.from_environment({variable: value})
    assert repr(value) in str(refused.value)
    assert Settings.from_environment({"GUARDPAY_LOG_LEVEL": " Debug "}).log_level == "debug"


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({"GUARDPAY_LOG_LEVEL": "loud", "GUARDPAY_RISK_REVIEW_HOURS": "x"})
    assert "GUARDPAY_LOG_LEVEL" in str(refused.value)
    assert "GUARDPAY_RISK_REVIEW_HOURS" in str(refused.value)


@pytest.mark.parametrize(
    "value",
    [
        "1:not-base64!",
        f"0:{KEY_1}",
        f"one:{KEY_1}",
        "1:" + base64.b64encode(b"short").decode(),
        ",",
    ],
)
def test_bad_master_keys_are_refused_without_quoting_them(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({"GUARDPAY_MASTER_KEYS": value})
    said = str(refused.value)
    assert said.startswith("GUARDPAY_MASTER_KEYS: ")
    assert value not in said
    assert refused.value.__cause__ is None  # pydantic's error, which quotes it, is not chained
    assert refused.value.__suppress_context__


def test_a_secret_is_never_quoted_in_an_error() -> None:
    settings = Settings.from_environment(EVERYTHING)
    for field in sorted(Settings.SECRET):
        with pytest.raises(SettingsError) as refused:
            settings.replace(**{field: ["not", "a", "string", "s3cret-value"]})
        assert str(refused.value).startswith(env_name(field) + ": ")
        assert "s3cret-value" not in str(refused.value)


def test_secrets_and_urls_stay_out_of_the_repr() -> None:
    settings = Settings.from_environment(EVERYTHING)
    for shown in (repr(settings), str(settings)):
        for secret in SECRETS:
            assert secret not in shown
    assert "**********" in repr(settings)
    assert "risk_review_hours=2.5" in repr(settings)  # the rest is there to read


def test_settings_are_frozen_and_replace_checks_what_it_changes() -> None:
    settings = Settings.from_environment({"GUARDPAY_METRICS_TOKEN": "t0ken"})
    with pytest.raises(ValidationError):
        settings.log_level = "debug"  # type: ignore[misc]
    changed = settings.replace(database_url="sqlite:///other.db", log_level="INFO")
    assert (changed.database_url, changed.log_level) == ("sqlite:///other.db", "info")
    assert changed.metrics_token == settings.metrics_token
    assert {"database_url", "log_level", "metrics_token"} == changed.model_fields_set
    with pytest.raises(SettingsError, match=r"^GUARDPAY_LOG_LEVEL: "):
        settings.replace(log_level="loud")


def test_the_other_modules_name_the_variables_settings_read() -> None:
    named = {
        config.DATABASE_URL_ENV: "database_url",
        keys.MASTER_KEYS_ENV: "master_keys",
        sms.BACKEND_ENV: "sms_backend",
        sms.TWILIO_SID_ENV: "twilio_account_sid",
        sms.TWILIO_TOKEN_ENV: "twilio_auth_token",
        sms.TWILIO_FROM_ENV: "twilio_from",
        sms.TWILIO_BASE_URL_ENV: "twilio_base_url",
        bank.ADAPTER_ENV: "bank_adapter",
        api_app.BANK_SECRET_ENV: "bank_callback_secret",
        metrics.METRICS_TOKEN_ENV: "metrics_token",
        engine.REDIS_ENV: "redis_url",
        engine.REDIS_PREFIX_ENV: "redis_prefix",
        engine.RULES_ENV: "risk_rules",
        idempotency.REQUIRED_ENV: "idempotency_required",
        observability.LOG_LEVEL_ENV: "log_level",
        observability.LOG_FORMAT_ENV: "log_format",
        targets.ALLOW_PRIVATE_ENV: "webhook_allow_private",
    }
    for variable, field in named.items():
        assert variable == env_name(field)
        assert field in Settings.model_fields


# -- nothing but config.py reads the environment -------------------------------------------
#: where writing the environment is the point: serve hands settings to its worker
#: processes; the API benchmark builds its server processes' environment from its own
WRITES_ALLOWED = {"cli/serve.py"}
COPY_ALLOWED = {"bench/api.py"}
_ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _environment_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """Each (line, how) where the module touches the process environment: `how` is
    "write" for `os.environ[...] = ...`, "copy" for `{**os.environ}`, else "read"."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [(node.lineno, "read") for a in node.names if a.name in _ENV_NAMES]
        if not (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in _ENV_NAMES
        ):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Subscript) and isinstance(parent.ctx, ast.Store):
            found.append((node.lineno, "write"))
        elif isinstance(parent, ast.Dict) and None in parent.keys:
            found.append((node.lineno, "copy"))
        else:
            found.append((node.lineno, "read"))
    return sorted(found)


def test_no_module_but_config_reads_the_environment() -> None:
    offending = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name == "config.py":
            continue
        for line, how in _environment_uses(ast.parse(path.read_text(), str(path))):
            allowed = (how == "write" and name in WRITES_ALLOWED) or (
                how == "copy" and name in COPY_ALLOWED
            )
            if not allowed:
                offending.append(f"{name}:{line} ({how})")
        if "envvar=" in path.read_text():  # click reading a variable behind the settings
            offending.append(f"{name} (typer envvar=)")
    assert offending == []


def test_the_environment_check_sees_each_way_of_reading_it() -> None:
    source = """
import os
from os import getenv
a = os.environ.get("X")
b = os.getenv("X")
c = os.environ["X"]
os.environ["X"] = "1"
d = {**os.environ, "X": "1"}
"""
    assert _environment_uses(ast.parse(source)) == [
        (3, "read"),
        (4, "read"),
        (5, "read"),
        (6, "read"),
        (7, "write"),
        (8, "copy"),
    ]
