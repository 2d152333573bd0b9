"""Every setting guardpay reads from the environment, typed, in one place.

`Settings.from_environment()` is the only reader of the process environment in guardpay
(tests/test_config.py holds the code to it). Each edge builds one `Settings` when it
starts and passes it in: the CLI in its root callback (`cli/main.py`, kept on
`CliState`; `--database-url` overrides `database_url`), the HTTP app in `create_app`
(kept on `app.state.settings`), a `guardpay serve` worker in `worker_app`. Services get
what they need from the edge: `Context.settings` (services/platform/context.py) or a
parameter.

Every variable is `GUARDPAY_` + the field's name in capitals; unset or empty means the
default. Booleans are 1/true/yes or 0/false/no (any case).

    variable                         field                  type, default
    GUARDPAY_DATABASE_URL            database_url           str, sqlite:///guardpay-data/guardpay.db
    GUARDPAY_MASTER_KEYS             master_keys            secret, none: a development key file
    GUARDPAY_SMS_BACKEND             sms_backend            str, none: console (with a warning)
    GUARDPAY_TWILIO_ACCOUNT_SID      twilio_account_sid     str, none
    GUARDPAY_TWILIO_AUTH_TOKEN       twilio_auth_token      secret, none
    GUARDPAY_TWILIO_FROM             twilio_from            str, none
    GUARDPAY_TWILIO_BASE_URL         twilio_base_url        str, https://api.twilio.com
    GUARDPAY_BANK_ADAPTER            bank_adapter           str, none: the fake bank
    GUARDPAY_BANK_CALLBACK_SECRET    bank_callback_secret   secret, none: callbacks get 503
    GUARDPAY_METRICS_TOKEN           metrics_token          secret, none: /metrics refused
    GUARDPAY_REDIS_URL               redis_url              str, none: features in process
    GUARDPAY_REDIS_PREFIX            redis_prefix           str, guardpay:risk:
    GUARDPAY_RISK_RULES              risk_rules             path, none: the packaged rules
    GUARDPAY_RISK_REVIEW_HOURS       risk_review_hours      float > 0 (at most a year), 24
    GUARDPAY_AML_MODEL               aml_model              path, none: AML scenarios only
    GUARDPAY_IDEMPOTENCY_REQUIRED    idempotency_required   bool, false
    GUARDPAY_LOG_LEVEL               log_level              debug|info|warning|error, warning
    GUARDPAY_LOG_FORMAT              log_format             console|json, console
    GUARDPAY_WEBHOOK_ALLOW_PRIVATE   webhook_allow_private  bool, false (development only)
    GUARDPAY_SECURE_COOKIES          secure_cookies         bool, false: Secure unless plain
                                                            HTTP to a loopback host
    GUARDPAY_TEST_POSTGRES_URL       test_postgres_url      str, postgresql://postgres@127.0.0.1:5432/test
                                                            (the tests' and benchmarks' server)

Secrets are `SecretStr` (printed as '**********'); the URLs, which may carry a password,
are left out of the repr too. A value that cannot be used raises `SettingsError` naming
the variable, and quoting the value only when it is not secret.

`guardpay serve --workers N` hands the database URL and the log choice to its worker
processes by writing them into its own environment before uvicorn starts them
(cli/serve.py); each worker reads them back here.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_DATA_DIR = Path("guardpay-data")
ENV_PREFIX = "GUARDPAY_"
DATABASE_URL_ENV = "GUARDPAY_DATABASE_URL"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR / 'guardpay.db'}"
DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["console", "json"]

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


class SettingsError(ValueError):
    """A setting cannot be used; the message names its variable, never a secret value."""


def env_name(field: str) -> str:
    """The variable a field is read from: `risk_review_hours` -> GUARDPAY_RISK_REVIEW_HOURS."""
    return ENV_PREFIX + field.upper()


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (os.environ or a test's)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            (k if self.case_sensitive else k.lower()): v
            for k, v in self._environ.items()
            if k.upper().startswith(ENV_PREFIX) and not (self.env_ignore_empty and v == "")
        }


class Settings(BaseSettings):
    """guardpay's settings (the module docstring lists each variable). `Settings()` is
    the defaults alone; `Settings.from_environment()` reads the environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    master_keys: SecretStr | None = None
    sms_backend: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    bank_adapter: str | None = None
    bank_callback_secret: SecretStr | None = None
    metrics_token: SecretStr | None = None
    redis_url: str | None = Field(default=None, repr=False)
    redis_prefix: str = "guardpay:risk:"
    risk_rules: Path | None = None
    aml_model: Path | None = None
    risk_review_hours: float = Field(default=24.0, gt=0, le=24 * 366, allow_inf_nan=False)
    idempotency_required: bool = False
    log_level: LogLevel = "warning"
    log_format: LogFormat = "console"
    webhook_allow_private: bool = False
    secure_cookies: bool = False  # the screens' cookies always `Secure` (behind a TLS proxy)
    test_postgres_url: str = Field(default=DEFAULT_TEST_POSTGRES_URL, repr=False)

    #: fields whose value an error message or repr must never show
    SECRET: ClassVar[frozenset[str]] = frozenset(
        {
            "database_url",
            "master_keys",
            "twilio_auth_token",
            "bank_callback_secret",
            "metrics_token",
            "redis_url",
            "test_postgres_url",
        }
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the constructor is given: the environment is read by
        `from_environment` alone, never behind a plain `Settings()`; no .env file."""
        return (init_settings,)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings `environ` (default: this process's environment) holds; raises
        SettingsError for a value that cannot be used."""
        source = _MappingSource(cls, os.environ if environ is None else environ)
        return cls._validated(source())

    def replace(self, **changes: Any) -> Settings:
        """These settings with `changes` (checked as a variable's would be): a command
        line option overriding its variable."""
        kept = {name: getattr(self, name) for name in self.model_fields_set}
        return self._validated({**kept, **changes})

    @classmethod
    def _validated(cls, values: Mapping[str, Any]) -> Settings:
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from None

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("idempotency_required", "webhook_allow_private", mode="before")
    @classmethod
    def _boolean(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError("must be 1, true or yes (or 0, false or no)")

    @field_validator("master_keys")
    @classmethod
    def _master_keys(cls, value: SecretStr | None) -> SecretStr | None:
        """'version:base64,...', each key 32 bytes; the message never quotes it."""
        if value is None:
            return None
        parts = [p.strip() for p in value.get_secret_value().split(",") if p.strip()]
        if not parts:
            raise ValueError("names no key (unset it for the development key file)")
        for part in parts:
            version, _, encoded = part.partition(":")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                key = b""
            if not version.isdigit() or int(version) < 1 or len(key) != 32:
                raise ValueError("must be 'version:base64 of 32 bytes,...', versions from 1")
        return value

    @field_validator(
        "sms_backend",
        "twilio_account_sid",
        "twilio_from",
        "bank_adapter",
        "redis_url",
        "risk_rules",
        "aml_model",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value


def _explain(exc: ValidationError) -> str:
    """One line per bad field: its variable and what is wrong; its value only when it is
    not a secret (pydantic's own message would quote every value)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=True):
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = error["msg"].removeprefix("Value error, ")
        if field in Settings.SECRET or "input" not in error:
            lines.append(f"{env_name(field)}: {message}")
        else:
            lines.append(f"{env_name(field)}: {message}, not {error['input']!r}")
    return "; ".join(lines)


__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_DATA_DIR",
    "Settings",
    "SettingsError",
    "env_name",
]
