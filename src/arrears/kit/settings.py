"""Configuration from environment variables (prefix ``ARREARS_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Effective settings; every field can be set as ``ARREARS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./arrears.db",
        description="SQLAlchemy URL of the database (SQLite by default, PostgreSQL in production).",
    )
    host: str = Field(default="127.0.0.1", description="Address the API server listens on.")
    port: int = Field(default=8000, description="Port the API server listens on.")
    timezone: str = Field(
        default="Asia/Shanghai", description="Portfolio time zone: decides what 'today' is."
    )
    default_currency: str = Field(
        default="CNY", description="ISO 4217 code used when none is given."
    )
    secret_key: SecretStr = Field(
        default=SecretStr("dev-only-change-me"),
        description="Secret for signing and keyed hashes; set a long random value in production.",
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    max_upload_mb: int = Field(
        default=200, description="Largest import file the API accepts, in MiB."
    )
    npl_contagion: bool = Field(
        default=False,
        description="One non-performing loan makes all of that borrower's loans non-performing.",
    )
    eod_time: str = Field(
        default="23:30", description="Local time (HH:MM) at which `arrears worker` runs the EOD."
    )
    eod_helpers: int = Field(
        default=1,
        ge=0,
        le=16,
        description="Helper processes the daily run evaluates loans in, beside itself (0: none).",
    )
    import_batch_size: int = Field(
        default=20_000, description="Rows written per batch by bulk imports."
    )

    @field_validator("default_currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def normalised_database_url(self) -> str:
        """The database URL with the driver SQLAlchemy needs (psycopg 3 for PostgreSQL)."""
        return normalise_database_url(self.database_url)

    def effective(self) -> dict[str, Any]:
        """Settings as printable values, secrets and passwords masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif name == "database_url":
                value = mask_url_password(value)
            out[name] = value
        return out


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def mask_url_password(url: str) -> str:
    """Replace the password of a URL with asterisks."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
