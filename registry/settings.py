"""Runtime configuration: from the environment (prefix ``REGISTRY_``), never from the repo."""

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError


class Settings(BaseSettings):
    # A refused value is not echoed: it may be a URL with its password.
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore",
                                      hide_input_in_errors=True)

    # With no URL the service starts the embedded PostgreSQL in ``data_dir``.
    # ``database_url``: what the service connects as (the service role: reads and appends,
    # no DDL). ``owner_database_url``: the role that owns the tables, for migrations and the
    # demo fill; unset with a ``database_url``, migrations use ``database_url``. The migrations
    # grant to ``service_role`` (db/versions/0007_least_privilege.py). Secrets: never logged
    # or printed with their password (``masked_url``; the repr masks them).
    database_url: str | None = None
    owner_database_url: str | None = None
    service_role: str = Field(default="registry_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    data_dir: Path = Path(".registry")
    environment: Literal["development", "production"] = "development"

    # The state whose POST board runs this registry (two-letter code).
    state: str = "VA"
    board_name: str = "Criminal Justice Services Board"

    # The NDI (registry/ndi/): who certifies and whom to call, as every exported record says
    # (unset: derived from the board's name and state); whether "under investigation" records
    # may be sent; the score above which an imported record of another state is attached to a
    # person by name and an exact date of birth (registry/ndi/service.py); the most records
    # the submitNdiExport mutation returns (larger exports: `registry ndi export`).
    ndi_certifying_authority: str | None = None
    ndi_contact: str | None = None
    ndi_under_investigation: bool = False
    ndi_attach_threshold: float = Field(default=0.85, ge=0, le=1)
    ndi_graphql_max_records: int = Field(default=5_000, ge=1)

    @model_validator(mode="after")
    def _service_role_is_the_service_url_user(self) -> "Settings":
        # With two URLs the grants must reach the role the service connects as.
        if self.database_url and self.owner_database_url:
            user = _url_user(self.database_url)
            if user != self.service_role:
                raise ValueError(
                    f"REGISTRY_DATABASE_URL connects as {user!r} but REGISTRY_SERVICE_ROLE is "
                    f"{self.service_role!r}: the migrations grant the service's privileges to "
                    "REGISTRY_SERVICE_ROLE, so set it to the user of REGISTRY_DATABASE_URL.")
        return self

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, masked_url(value) if name in _URL_FIELDS and value else value

    @model_validator(mode="after")
    def _ndi_defaults(self) -> "Settings":
        if not self.ndi_certifying_authority:
            self.ndi_certifying_authority = f"{self.board_name} ({self.state})"
        if not self.ndi_contact:
            self.ndi_contact = f"{self.board_name} ({self.state}), certification staff"
        return self

    # GraphQL request limits: checked before anything executes.
    max_document_bytes: int = Field(default=32_000, ge=256)
    max_document_tokens: int = Field(default=5_000, ge=50)
    max_query_depth: int = Field(default=12, ge=2)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    # Estimated cost of one /graphql operation (registry/api/cost.py): each field costs
    # cost_per_field per parent; a list multiplies what is below it by cost_list_size, a
    # connection by its `first`. The shipped operations stay under the limit (tests).
    max_query_cost: int = Field(default=25_000, ge=10)
    cost_per_field: int = Field(default=1, ge=1)
    cost_list_size: int = Field(default=10, ge=1)
    # Most items any list argument or list input field may hold (literal or variable).
    max_list_input: int = Field(default=100, ge=1)
    # /graphql runs only the operations in operations_dir (by SHA-256 of the file's text);
    # unset: on in production, off in development. Unset dir: the checkout's
    # graphql/operations (its public/ folder is /public/graphql's, which stays open).
    persisted_operations: bool | None = None
    operations_dir: Path | None = None
    # Distinct documents kept parsed and validated, per schema.
    document_cache_size: int = Field(default=256, ge=0)

    # Statutory grounds for referral (TOML); unset: registry/referrals/grounds.toml.
    grounds_file: Path | None = None

    # The board's vote (registry/cases/board.py). Quorum: more than ``board_quorum_fraction``
    # of the members seated on the vote date are present (voted yes, no or abstain; a recusal
    # is not presence), with at least ``board_quorum_min_civilians`` civilians among them.
    # The motion passes when yes votes are more than ``board_majority_fraction`` of the basis:
    # those present, or the votes cast (yes + no).
    board_quorum_fraction: float = Field(default=0.5, ge=0, lt=1)
    board_quorum_min_civilians: int = Field(default=1, ge=0)
    board_majority_basis: Literal["present", "votes_cast"] = "present"
    board_majority_fraction: float = Field(default=0.5, ge=0, lt=1)

    # Background-check matching (registry/background_checks/matching.py): matches scoring
    # below the threshold are not reported; pg_trgm similarity below the floor is no evidence.
    match_threshold: float = Field(default=0.5, ge=0, le=1)
    match_trigram_floor: float = Field(default=0.3, ge=0, le=1)
    # Loaders (loaders/resolve.py) attach a row without a source id to an existing person
    # only at this score or above (or on a name with a stint at the same agency).
    load_match_threshold: float = Field(default=0.9, ge=0, le=1)
    match_limit: int = Field(default=10, ge=1, le=100)
    # Checks one API key may run per rolling hour.
    checks_per_hour: int = Field(default=200, ge=1)
    # Agencies that checked an officer within this many days are notified of later final
    # orders, sustained findings and separations under investigation.
    notify_window_days: int = Field(default=365, ge=1)
    # Webhook deliveries: attempts before giving up; the wait doubles from the first delay.
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_first_retry_seconds: float = Field(default=30, gt=0)
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    webhook_poll_seconds: float = Field(default=5, gt=0)

    # The public transparency site and /public/graphql (registry/transparency/).
    # Whether state law makes officers' employment (agencies, years served) public.
    public_employment: bool = True
    # Requests one client address may make, in the `limits` library's notation ("120/minute",
    # "10/second;300/hour"); counted per worker process (in memory).
    public_rate_limit: str = "120/minute"
    # How long browsers and shared caches may keep public GET answers and pages.
    public_cache_seconds: int = Field(default=60, ge=0, le=86_400)
    # Largest estimated cost of one public GraphQL operation (registry/api/cost.py).
    public_max_cost: int = Field(default=20_000, ge=10)
    # Connections of the public side's own asyncpg pool, per worker process.
    public_db_pool_size: int = Field(default=10, ge=1, le=100)

    db_pool_size: int = Field(default=10, ge=1)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    # The longest a request waits for a working database connection (connect, pool
    # checkout, the liveness ping) before answering 503 DATABASE_UNAVAILABLE: an outage is
    # refused quickly instead of holding clients until their own timeouts.
    db_unavailable_timeout_seconds: float = Field(default=5, gt=0, le=60)


_URL_FIELDS = frozenset({"database_url", "owner_database_url"})


def masked_url(url: str) -> str:
    """``url`` fit to print or log: its password, if any, replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


def _url_user(url: str) -> str | None:
    try:
        return make_url(url).username
    except ArgumentError:
        return None


def settings_problems(error: ValidationError) -> list[str]:
    """Each problem of a refused Settings, as an operator reads it: the variable to change
    and why (the values are never echoed: ``hide_input_in_errors``)."""
    problems = []
    for e in error.errors():
        message = e["msg"].removeprefix("Value error, ")
        field = e["loc"][0] if e["loc"] else None
        problems.append(f"REGISTRY_{str(field).upper()}: {message}" if field else message)
    return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
