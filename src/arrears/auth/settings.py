"""Security settings from environment variables (prefix ``ARREARS_``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    """Sign-in, session and key settings; every field can be set as ``ARREARS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_", extra="ignore")

    token_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="Lifetime of a bearer token, in minutes."
    )
    session_minutes: int = Field(
        default=480,
        ge=1,
        le=7 * 24 * 60,
        description="Lifetime of a web-console session cookie, in minutes (a working shift).",
    )
    data_keys: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Encryption keys for personal data at rest: comma-separated keyid:base64key, "
            "the first one active. Derived from ARREARS_SECRET_KEY when empty (development)."
        ),
    )
    blind_index_key: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Key of the keyed hashes used to search encrypted values (base64). Derived from "
            "ARREARS_SECRET_KEY when empty."
        ),
    )
    tls: bool = Field(
        default=False,
        description="The console is served over HTTPS: session cookies get the Secure flag.",
    )
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API from a browser.",
    )
    max_failed_sign_ins: int = Field(
        default=5, ge=1, description="Consecutive failed sign-ins that lock an account."
    )
    lockout_minutes: int = Field(
        default=15, ge=1, description="How long a locked account stays locked, in minutes."
    )
    sign_in_attempts_per_minute: int = Field(
        default=10, ge=1, description="Sign-in attempts allowed per minute per account and per IP."
    )
    max_body_kb: int = Field(
        default=1024,
        ge=1,
        description=(
            "Largest request body the API accepts, in KiB (file uploads: ARREARS_MAX_UPLOAD_MB)."
        ),
    )

    @property
    def cors_origin_list(self) -> list[str]:
        """``cors_origins`` split into a list."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


@lru_cache(maxsize=1)
def get_auth_settings() -> AuthSettings:
    """The process-wide security settings, read once (``cache_clear()`` re-reads)."""
    return AuthSettings()
