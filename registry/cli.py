"""The ``registry`` command line. Every command has ``--help``."""

import asyncio
import difflib
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlmodel.ext.asyncio.session import AsyncSession

from loaders.cli import load_app
from registry.actors import Actor
from registry.database import (
    create_engine,
    is_privileged,
    resolve_database_url,
    resolve_owner_url,
    session_scope,
)
from registry.errors import RegistryError
from registry.keys.models import ApiKey, Role
from registry.ndi.cli import ndi_app
from registry.redact import uvicorn_log_config
from registry.settings import Settings, get_settings, masked_url, settings_problems

app = typer.Typer(help="Officer certification registry: a POST board's system of record.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
notifications_app = typer.Typer(help="Notifications to agencies that checked an officer.",
                                no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(notifications_app, name="notifications")
app.add_typer(ndi_app, name="ndi")
app.add_typer(load_app, name="load")

T = TypeVar("T")
_SERVICE_ROLE_MISSING = re.compile(r'role "[^"]+" does not exist')
console = Console()
err = Console(stderr=True)
GRAPHQL_DIR = Path(__file__).resolve().parent.parent / "graphql"


class RoleChoice(StrEnum):
    agency = "agency"
    post_staff = "post_staff"
    board_member = "board_member"
    admin = "admin"


def _settings() -> Settings:
    return get_settings()


@app.callback()
def _settings_are_valid() -> None:
    # Every command reads the REGISTRY_* settings: a wrong one is named before any command
    # runs, without a traceback.
    try:
        get_settings()
    except ValidationError as e:
        _fail("; ".join(settings_problems(e)))


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # Starting the embedded server runs its own event loop: do it before entering ours.
    resolve_database_url(_settings())
    try:
        return asyncio.run(coro)
    except RegistryError as e:
        err.print(f"[red]error:[/red] {e.message}")
        raise typer.Exit(1) from None
    except ProgrammingError as e:
        if "does not exist" not in str(e):
            raise
        err.print("[red]error:[/red] the database has no registry tables yet; run "
                  "`registry db upgrade` (or `registry serve`, which migrates) first.")
        raise typer.Exit(1) from None
    except DBAPIError as e:
        if not _SERVICE_ROLE_MISSING.search(str(e)):
            raise
        err.print(f"[red]error:[/red] the service role {_settings().service_role} does not "
                  "exist yet; run `registry db upgrade` (or `registry serve`, which migrates) "
                  "first, or create it (README, \"Database roles\").")
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    demo: Annotated[bool, typer.Option(
        help="Fill an empty database with a synthetic state and print a key for each role.")]
    = False,
    demo_officers: Annotated[int, typer.Option(min=100, help="Officers in the demo state.")]
    = 20_000,
) -> None:
    """Migrate the database and serve the API (the embedded PostgreSQL unless
    REGISTRY_DATABASE_URL is set)."""
    import uvicorn

    from registry import migrations

    settings = _settings()
    owner = resolve_owner_url(settings)  # both URLs exported to the environment for workers
    migrations.upgrade(owner)
    _print_roles(owner, resolve_database_url(settings))
    if demo:
        from registry.demo import load_demo

        keys = _run(load_demo(settings, officers=demo_officers, console=console))
        _print_demo_keys(keys, host, port)
    console.print(f"Serving on http://{host}:{port}/graphql (public: /public/graphql)")
    uvicorn.run("registry.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", log_config=uvicorn_log_config())


def _print_roles(owner: str, service: str) -> None:
    """Which roles migrate and serve (URLs without their passwords); a warning when the
    service's role could alter or drop the tables (a deployment with one URL for both)."""
    console.print(f"Migrated as {masked_url(owner)}; serving as {masked_url(service)}",
                  soft_wrap=True, markup=False, highlight=False)
    if is_privileged(service):
        err.print("[yellow]warning:[/yellow] the service connects as a superuser or the owner "
                  "of the tables, which may alter and drop them: migrate with "
                  "REGISTRY_OWNER_DATABASE_URL and connect REGISTRY_DATABASE_URL as the service "
                  "role (README, \"Database roles\").")


def _print_demo_keys(keys: list[tuple[str, str, str]], host: str, port: int) -> None:
    """One key per line, never wrapped or cut, so a token can be copied whole."""
    console.print("[bold]Demo API keys[/bold] (shown once; `registry keys list` lists them):")
    for role, name, token in keys:
        console.print(f"  {role:<13} {token}  [dim]{escape(name)}[/dim]", soft_wrap=True)
    if keys:
        token = keys[0][2]
        console.print("Try:", soft_wrap=True)
        console.print(
            f"  curl -s http://{host}:{port}/graphql -H 'Authorization: Bearer {token}' "
            "-H 'Content-Type: application/json' -d '{\"query\": \"{ me { name role } "
            "officers(first: 3) { edges { node { fullName certifications { number status } } } "
            "} }\"}'", soft_wrap=True, markup=False, highlight=False)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Option(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION as the owner of the tables (REGISTRY_OWNER_DATABASE_URL;
    creates pg_trgm, fuzzystrmatch, unaccent, citext, and grants the service role its
    privileges)."""
    from registry import migrations

    owner = resolve_owner_url(_settings())
    migrations.upgrade(owner, revision)
    console.print(f"Database at revision {revision} (migrated as {masked_url(owner)}).",
                  soft_wrap=True, markup=False, highlight=False)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Option(help="Target revision ('base' removes everything).")]
    = "-1",
) -> None:
    """Undo migrations down to REVISION (one step by default), as the owner of the tables."""
    from registry import migrations

    migrations.downgrade(resolve_owner_url(_settings()), revision)
    console.print(f"Database downgraded to {revision}.")


async def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = _settings()
    engine = create_engine(resolve_database_url(settings), settings)
    try:
        async with session_scope(engine) as session:
            return await work(session)
    finally:
        await engine.dispose()


@keys_app.command("create")
def keys_create(
    role: Annotated[RoleChoice, typer.Option(help="The key's role.")],
    name: Annotated[str, typer.Option(help="Who holds the key (a person or system).")],
    agency: Annotated[str | None, typer.Option(help="ORI of the agency (agency keys only).")]
    = None,
) -> None:
    """Create an API key and print its token once; only its hash is stored."""
    from registry.keys import service

    async def work(session: AsyncSession) -> tuple[ApiKey, str]:
        return await service.create(session=session, actor=Actor.system("registry keys create"),
                                    role=Role(role.value), name=name, agency_ori=agency)

    key, token = _run(_with_session(work))
    console.print(f"Created key {key.id} ({key.role}) for {key.name}.")
    console.print("Token (shown once, store it now):")
    print(token)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their tokens)."""
    from registry.keys import service

    async def work(session: AsyncSession) -> list[tuple[ApiKey, str | None]]:
        return await service.list_keys(session=session)

    table = Table()
    table.add_column("id", no_wrap=True)
    for column in ("name", "role", "agency", "created", "revoked"):
        table.add_column(column)
    for k, ori in _run(_with_session(work)):
        table.add_row(str(k.id), k.name, k.role, ori or "",
                      f"{k.recorded_at:%Y-%m-%d %H:%M}",
                      f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke a key; requests with its token are refused from then on."""
    from registry.keys import service

    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        _fail(f"'{key_id}' is not a key id; `registry keys list` shows them.")

    async def work(session: AsyncSession) -> ApiKey:
        return await service.revoke(session=session, actor=Actor.system("registry keys revoke"),
                                    key_id=parsed)

    _run(_with_session(work))
    console.print(f"Revoked key {key_id}.")


def printed_schemas() -> dict[str, str]:
    from graphql import print_schema

    from registry.api.schema import schema
    from registry.transparency.schema import public_schema

    return {
        "schema.graphql": print_schema(schema.graphql_schema) + "\n",
        "public.graphql": print_schema(public_schema.graphql_schema) + "\n",
    }


@app.command("schema")
def schema_command(
    check: Annotated[bool, typer.Option("--check", help="Fail if graphql/*.graphql differ.")]
    = False,
    write: Annotated[bool, typer.Option("--write", help="Rewrite graphql/*.graphql.")] = False,
) -> None:
    """Print both GraphQL schemas, or check/write the checked-in copies."""
    schemas = printed_schemas()
    if write:
        for name, text in schemas.items():
            (GRAPHQL_DIR / name).write_text(text)
            console.print(f"wrote graphql/{name}")
        return
    if check:
        stale = False
        for name, text in schemas.items():
            path = GRAPHQL_DIR / name
            current = path.read_text() if path.exists() else ""
            if current != text:
                stale = True
                sys.stdout.writelines(difflib.unified_diff(
                    current.splitlines(True), text.splitlines(True),
                    f"graphql/{name} (checked in)", f"graphql/{name} (from the code)"))
        if stale:
            _fail("the checked-in schema differs from the code; run `registry schema --write`.")
        console.print("graphql/schema.graphql and graphql/public.graphql match the code.")
        return
    for name, text in schemas.items():
        print(f"# {name}\n{text}")


operations_app = typer.Typer(help="The shipped GraphQL operations (graphql/operations/).",
                              no_args_is_help=True)
app.add_typer(operations_app, name="operations")


@operations_app.command("list")
def operations_list() -> None:
    """Print each shipped operation's SHA-256, endpoint and name, one a line.

    The hash is what a client sends as extensions.persistedQuery.sha256Hash; in persisted
    mode (REGISTRY_PERSISTED_OPERATIONS) /graphql runs nothing else."""
    from registry.api.persisted import load_operations, operations_dir

    directory = operations_dir(_settings())
    for endpoint, folder in (("/graphql", directory), ("/public/graphql", directory / "public")):
        for operation in load_operations(folder).values():
            console.print(f"{operation.sha256}  {endpoint}  {operation.name}", soft_wrap=True,
                          highlight=False)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain end to end and say where it breaks."""
    from registry.audit.service import ChainReport, verify_chain

    async def verify() -> ChainReport:
        settings = _settings()
        engine = create_engine(resolve_database_url(settings), settings)
        report = ChainReport(0, None, [])
        try:
            with Progress(TextColumn("verifying audit chain"), BarColumn(),
                          TextColumn("{task.completed} events"), TimeElapsedColumn(),
                          console=err) as progress:
                task = progress.add_task("verify", total=None)
                async for report in verify_chain(engine):
                    progress.update(task, completed=report.events)
        finally:
            await engine.dispose()
        return report

    report = _run(verify())
    for b in report.breaks[:50]:
        err.print(f"[red]event {b.event_id}[/red]: {b.problem}")
    if report.breaks:
        _fail(f"the audit chain breaks at event {report.breaks[0].event_id} "
              f"({len(report.breaks)} problems in {report.events} events).")
    console.print(f"Audit chain intact: {report.events} events; head hash "
                  f"{report.head_hash or '(empty)'}.")


# --- background checks ------------------------------------------------------------------------

checks_app = typer.Typer(help="Background checks: measure the matching.", no_args_is_help=True)
app.add_typer(checks_app, name="checks")


@checks_app.command("evaluate")
def checks_evaluate(
    people: Annotated[int, typer.Option(min=1, help="True people to look for.")] = 1000,
    background: Annotated[int, typer.Option(
        min=0, help="Synthetic officers to hide them among.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic state and the set.")] = 7,
    database_url: Annotated[str | None, typer.Option(
        help="An empty database to fill (migrated first). Default: the database "
             "'registry_evaluation' on the embedded server, dropped and recreated, so real "
             "data is never touched.")] = None,
    misses: Annotated[int, typer.Option(
        min=0, help="Print up to this many misses per variant (for debugging).")] = 0,
) -> None:
    """Measure background-check matching on a labeled evaluation set (realistic variants of
    people in the registry, hard namesakes, people not in it): recall@1, recall@3, recall and
    precision at the configured threshold (REGISTRY_MATCH_THRESHOLD), per variant."""
    from registry import migrations
    from registry.background_checks import evaluation

    settings = _settings()
    url = database_url or evaluation.fresh_embedded_database(settings.data_dir)
    migrations.upgrade(url)
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                  console=err) as progress:
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        result = _run(evaluation.run(url, settings, people=people, background=background,
                                     seed=seed, progress=report))
    for table in evaluation.report_tables(result):
        console.print(table)
    shown: dict[str, int] = {}
    for miss in result.misses:
        if shown.setdefault(miss.labeled.variant, 0) < misses:
            shown[miss.labeled.variant] += 1
            console.print(miss.describe(), markup=False, highlight=False)


@notifications_app.command("deliver")
def notifications_deliver() -> None:
    """Send the webhook deliveries that are due, once, and print what became of them
    (`registry serve` also sends them in the background every REGISTRY_WEBHOOK_POLL_SECONDS)."""
    from registry.notifications import webhooks

    async def deliver() -> webhooks.Counts:
        settings = _settings()
        engine = create_engine(resolve_database_url(settings), settings)
        try:
            return await webhooks.deliver_all_due(engine, settings)
        finally:
            await engine.dispose()

    counts = _run(deliver())
    console.print(f"Webhook deliveries: {counts.delivered} delivered, {counts.retrying} to "
                  f"retry, {counts.failed} failed for good"
                  + (f", {counts.superseded} taken over by another worker"
                     if counts.superseded else "") + ".")


if __name__ == "__main__":
    app()
