"""``registry ndi export`` and ``registry ndi import`` (the ``ndi`` sub-app of registry/cli.py)."""

import asyncio
import getpass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from registry.actors import Actor
from registry.database import create_engine, resolve_database_url
from registry.errors import RegistryError
from registry.keys.models import Role
from registry.settings import get_settings

console = Console()
err = Console(stderr=True)

ndi_app = typer.Typer(
    help="The National Decertification Index (NDI): export this state's decertification "
         "actions as a batch file; import another state's file so background checks see it.",
    no_args_is_help=True)


def _actor(by: str | None, command: str) -> Actor:
    """The command line acts as POST staff (the NDI is their duty) under the name given."""
    return Actor(name=f"{by or getpass.getuser()} (registry ndi {command})", role=Role.POST_STAFF)


def _run(work: Any) -> Any:
    """Run ``work(engine, settings)`` against the configured database. The URL is resolved
    first, outside the event loop: starting the embedded server runs a loop of its own."""
    settings = get_settings()
    url = resolve_database_url(settings)

    async def main() -> Any:
        engine = create_engine(url, settings)
        try:
            return await work(engine, settings)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


def _progress(label: str) -> tuple[Progress, Any]:
    progress = Progress(TextColumn(label), BarColumn(),
                        TextColumn("{task.completed:,}/{task.total:,}"),
                        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err)
    task: TaskID | None = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(label, total=total, rate="")
        elapsed = progress.tasks[0].elapsed or 0
        rate = f"{done / elapsed:,.0f}/s" if elapsed > 0 and done else ""
        progress.update(task, completed=done, total=total, rate=rate)

    return progress, update


@ndi_app.command("export")
def export_command(
    output: Annotated[Path, typer.Option(
        "-o", "--output", dir_okay=False,
        help="The batch file to write (CSV in the NDI layout). It appears only once every "
             "record passed the layout and the submission is recorded.")],
    since_last: Annotated[bool, typer.Option(
        "--since-last/--all",
        help="--since-last (default): actions no submission carried yet and records changed "
             "since they were sent. --all: every record that still means something to the "
             "NDI.")] = True,
    by: Annotated[str | None, typer.Option(
        help="Who submits, kept in the ledger and the audit trail (default: your user "
             "name).")] = None,
) -> None:
    """Export final orders, appeal outcomes and reinstatements (and, with
    REGISTRY_NDI_UNDER_INVESTIGATION, pending cases as "under investigation") as NDI records
    (new, update, rescind), validate every record against the layout, write the file and
    record the submission. A record that fails stops the export: the failures are listed and
    no file is written."""
    from registry.ndi import service

    scope = service.Scope.SINCE_LAST if since_last else service.Scope.ALL
    progress, update = _progress("exporting")

    async def work(engine: Any, settings: Any) -> service.Submission:
        return await service.export_to_path(engine, actor=_actor(by, "export"),
                                            settings=settings, scope=scope, path=output,
                                            progress=update)

    try:
        with progress:
            sent = _run(work)
    except service.NdiRecordsInvalid as e:
        table = Table(title="Records that do not fit the layout")
        for column in ("record", "column", "reason"):
            table.add_column(column, overflow="fold")
        for failure in e.details["failures"]:
            for p in failure["problems"]:
                table.add_row(failure["recordId"], p["column"], p["reason"])
        err.print(table)
        _fail(f"{e.details['failed']:,} record(s) failed; nothing was exported and no file "
              "was written.")
    except RegistryError as e:
        _fail(e.message)
    console.print(
        f"Exported {sent.records:,} records ({sent.new_records:,} new, {sent.updates:,} "
        f"update, {sent.rescinds:,} rescind) to {output}\n"
        f"submission {sent.id}, layout {sent.layout_version}, sha256 {sent.file_sha256}")


@ndi_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="Another state's NDI file (the same layout).")],
    rejects: Annotated[Path | None, typer.Option(
        dir_okay=False, help="Where rejected records are listed (line, record id, column, "
                             "reason). Default: FILE.rejects.csv, written only when a record "
                             "is rejected.")] = None,
    by: Annotated[str | None, typer.Option(
        help="Who imports, kept in the audit trail (default: your user name).")] = None,
) -> None:
    """Read another state's NDI file: each record becomes an external action attached to a
    person by certificate number, by name and date of birth, or to a person of their own, so
    background checks find it. Re-importing the same file changes nothing; an update record
    makes a new version; a rescind marks the action rescinded."""
    from registry.ndi import service

    rejects_path = rejects or file.with_name(file.name + ".rejects.csv")
    progress, update = _progress("importing (bytes)")

    async def work(engine: Any, settings: Any) -> service.ImportResult:
        return await service.import_path(engine, actor=_actor(by, "import"), settings=settings,
                                         path=file, rejects_path=rejects_path, progress=update)

    try:
        with progress:
            result = _run(work)
    except RegistryError as e:
        _fail(e.message)
    table = Table(title=f"{file.name}: {result.records:,} records")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    for key, count in sorted(result.counts.items()):
        table.add_row(key.replace("_", " "), f"{count:,}")
    table.add_row("rejected", f"{result.rejected:,}")
    console.print(table)
    if result.ignored_columns:
        console.print(f"Columns not in the layout, ignored: {', '.join(result.ignored_columns)}")
    if result.rejects:
        shown = Table(title=f"Rejected records (all in {result.rejects_file})")
        for column in ("line", "record", "column", "reason"):
            shown.add_column(column, overflow="fold")
        for r in result.rejects[:20]:
            shown.add_row(str(r.line), r.record_id or "", r.column, r.reason)
        console.print(shown)
    console.print(f"load run {result.run_id}, sha256 {result.file_sha256}")
