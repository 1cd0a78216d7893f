"""Settings, declared once.

Every setting is read from the environment with the ``TRUSTREG_`` prefix (or a
``.env`` file), has a default and a one-line reason, and is validated at start-up.
``docs/configuration.md`` lists them all; a test keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's own rulebook folder: used when the package runs from a checkout.
REPO_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_SECRET = "change-me"
# Changing the identifier key makes every stored person number unfindable: the
# identifiers must then be imported again (docs/privacy.md).
PLACEHOLDER_IDENTIFIER_KEY = "change-me-identifier-key"


class Settings(BaseSettings):
    """Trust Registry settings (environment variables ``TRUSTREG_<NAME>``)."""

    model_config = SettingsConfigDict(env_prefix="TRUSTREG_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="Where the registry runs; production refuses placeholders."
    )
    data_dir: Path = Field(
        Path("var"), description="Folder for the embedded SQLite store and generated files."
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the store; empty means SQLite file DATA_DIR/registry.db.",
    )
    rulebook: Path = Field(
        REPO_ROOT / "rulebooks" / "model.toml",
        description="Rulebook TOML loaded by `trustreg init` and the demo.",
    )
    secret_key: str = Field(
        PLACEHOLDER_SECRET,
        description="Key for signing sessions and hashing tokens; must be set in production.",
    )
    identifier_key: str = Field(
        PLACEHOLDER_IDENTIFIER_KEY,
        description="Key of the keyed hash (HMAC-SHA256) under which person identifiers are "
        "kept; never stored in the database; must be set in production.",
    )
    import_chunk_rows: int = Field(
        2000, ge=1, description="Rows per committed chunk on import: a crash loses at most one."
    )
    import_max_line_bytes: int = Field(
        1_048_576, ge=1024, description="Longest line an import file may have before rejection."
    )
    max_name_chars: int = Field(
        200, ge=10, description="Longest subject name accepted; longer names are rejected."
    )
    match_threshold: float = Field(
        0.85, gt=0, le=1, description="Screening score from which a candidate is a match."
    )
    review_threshold: float = Field(
        0.60, gt=0, le=1, description="Screening score from which a candidate goes to review."
    )
    screening_workers: int = Field(
        2, ge=1, le=64, description="Processes that match queries in `trustreg screen`."
    )
    host: str = Field("127.0.0.1", description="Address `trustreg serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `trustreg serve` listens on.")
    web_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes of `trustreg serve`, forked from one warm parent "
        "(about one per core; more than one warms the screening index before serving).",
    )

    session_hours: int = Field(
        8, ge=1, le=720, description="Hours a web sign-in lasts before signing in again."
    )
    cookie_secure: bool = Field(
        True,
        description="Send session cookies over HTTPS only (browsers allow it on localhost too).",
    )
    webhook_delivery_seconds: int = Field(
        30,
        ge=0,
        le=3600,
        description="Seconds between the server's runs of due webhook deliveries (first "
        "worker only); 0 turns them off, leaving them to `trustreg watch deliver` from cron.",
    )

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("TRUSTREG_SECRET_KEY must be set to a real secret in production")
        if self.environment == "production" and self.identifier_key in (
            PLACEHOLDER_IDENTIFIER_KEY,
            self.secret_key,
        ):
            raise ValueError(
                "TRUSTREG_IDENTIFIER_KEY must be set in production, to a secret of its own "
                "(not TRUSTREG_SECRET_KEY)"
            )
        return self

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Settings:
        if self.review_threshold > self.match_threshold:
            raise ValueError("TRUSTREG_REVIEW_THRESHOLD must not exceed TRUSTREG_MATCH_THRESHOLD")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The store URL, defaulting to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"
