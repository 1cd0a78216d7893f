"""Settings, declared once.

Every setting is read from the environment with the ``TRUSTREG_`` prefix (or a
``.env`` file), has a default and a one-line reason, and is validated at start-up.
``docs/configuration.md`` lists them all; a test keeps the two in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

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
    database_pool_size: int = Field(
        5,
        ge=1,
        le=200,
        description="PostgreSQL: connections each process keeps open (SQLAlchemy's pool_size).",
    )
    database_max_overflow: int = Field(
        10,
        ge=0,
        le=200,
        description="PostgreSQL: connections a process may open beyond the pool at busy times.",
    )
    database_pgbouncer: bool = Field(
        False,
        description="PostgreSQL behind PgBouncer in transaction mode: no server-side "
        "prepared statements (another client may get the server connection next).",
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
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="Log lines of the server and the CLI: one JSON object per line, or "
        "readable text; auto means JSON in production and text elsewhere.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe log lines written (info includes the access log)."
    )
    access_log: bool = Field(
        True, description="Write one log line per HTTP request (route template, status, time)."
    )
    metrics_token: str = Field(
        "",
        description="Bearer token a Prometheus scraper sends to read /metrics (at least 24 "
        "characters); empty lets only signed-in operators read it.",
    )

    # Security controls (web/security.py, services/accounts.py): docs/configuration.md.
    max_body_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="Largest JSON or form request body; larger ones get 413 before parsing.",
    )
    max_upload_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest file upload (multipart evidence, CSV or JSON Lines screening and "
        "tender files); larger ones get 413 before parsing.",
    )
    limit_sign_ins_per_minute: int = Field(
        30, ge=0, description="Sign-in attempts per client address and minute; 0 turns it off."
    )
    limit_sign_ins_per_user_per_minute: int = Field(
        10, ge=0, description="Sign-in attempts per username and minute; 0 turns it off."
    )
    limit_checks_per_minute: int = Field(
        600,
        ge=0,
        description="Checks and look-ups per account (or client address) and minute; 0 "
        "turns it off.",
    )
    limit_screenings_per_minute: int = Field(
        10,
        ge=0,
        description="Screening and tender-check submissions per account (or client "
        "address) and minute; 0 turns it off.",
    )
    lockout_failures: int = Field(
        5,
        ge=0,
        description="Failed sign-ins within LOCKOUT_MINUTES that lock an account; 0 turns "
        "the lock-out off.",
    )
    lockout_minutes: int = Field(
        15, ge=1, le=1440, description="Window of counted failures and length of a lock-out."
    )
    # Slow clients (web/slow_clients.py): docs/configuration.md.
    request_header_seconds: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds a client has to send a request's headers; a slower one "
        "(slowloris) gets 408 and is disconnected.",
    )
    request_body_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds a client has to send a request's body, one more for every "
        "16 KiB received; a slower one is disconnected.",
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

    @model_validator(mode="after")
    def _metrics_token_long_enough(self) -> Settings:
        # A short token could be guessed by trying; empty turns the token off.
        if self.metrics_token and len(self.metrics_token.strip()) < 24:
            raise ValueError("TRUSTREG_METRICS_TOKEN must have at least 24 characters")
        return self

    @property
    def engine_options(self) -> dict[str, Any]:
        """``make_engine``'s options for this store: the pool and PgBouncer settings."""
        if not self.sqlalchemy_url.startswith("postgresql"):
            return {}
        options: dict[str, Any] = {
            "pool_size": self.database_pool_size,
            "max_overflow": self.database_max_overflow,
        }
        if self.database_pgbouncer:
            options["connect_args"] = {"prepare_threshold": None}
        return options

    @property
    def sqlalchemy_url(self) -> str:
        """The store URL, defaulting to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"
