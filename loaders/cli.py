"""``registry load KIND FILE``: one command per kind, the same options for each."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loaders.base import LoadError, Options, Report
from registry.settings import Settings, get_settings

load_app = typer.Typer(
    help="Load a source file into the registry: roster, npi, fl-post, va-dcjs. Rows that "
         "cannot be loaded go to a rejects file (row number, reason, the row); loading a file "
         "again adds nothing twice, and a run that was killed resumes where it stopped.",
    no_args_is_help=True)
console = Console()
err = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="The file to load.")]
DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="Read, check and match every row and count what would happen; write "
                      "nothing but the rejects file and the report.")]
ChunkSize = Annotated[int, typer.Option(
    min=1, help="Rows per transaction: a killed run keeps whole chunks.")]
Rejects = Annotated[Path | None, typer.Option(
    help="Where the rejects CSV goes (default: ./<file>.<kind>.rejects.csv).")]
ReportPath = Annotated[Path | None, typer.Option(
    "--report", help="Also write the report as JSON to this file.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def _settings() -> Settings:
    return get_settings()


def _database(settings: Settings) -> Settings:
    """Migrate as the owner; the load itself runs as the service role (settings.database_url)."""
    from registry import migrations
    from registry.database import resolve_database_url, resolve_owner_url

    migrations.upgrade(resolve_owner_url(settings))
    settings.database_url = resolve_database_url(settings)
    return settings


def _run(work: Callable[[Settings, Options], Awaitable[Report]], options: Options) -> None:
    settings = _database(_settings())
    try:
        report = asyncio.run(work(settings, options))
    except LoadError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(1) from None
    print_report(report)


def print_report(report: Report) -> None:
    title = f"{'DRY RUN: nothing written. ' if report.dry_run else ''}{report.kind} " \
            f"{Path(report.file).name}"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("rows", justify="right")
    rate = f" ({report.rows_in / report.seconds:,.0f} rows/s)" if report.seconds else ""
    for what, n in (("rows read", report.rows_in), ("loaded", report.loaded),
                    ("already loaded before", report.already_loaded),
                    ("rejected", report.rejected)):
        table.add_row(what, f"{n:,}")
    for what, n in sorted(report.counts.items()):
        table.add_row(f"  {what}", f"{n:,}")
    for what, n in report.reasons.most_common():
        table.add_row(f"  rejected: {escape(what)}", f"{n:,}")
    console.print(table)
    console.print(f"{report.seconds:.1f} s{rate}; file SHA-256 {report.sha256}"
                  + (f"; run {report.run_id}" if report.run_id else ""))
    if report.rejected:
        console.print(f"rejects: {report.rejects_file}")
    for note in report.notes:
        console.print(f"note: {escape(note)}")
    for name, items in report.lists.items():
        if items:
            console.print(f"[bold]{escape(name)}[/bold] ({len(items)}):")
            for item in items[:40]:
                console.print(f"  {escape(str(item))}", soft_wrap=True)
            if len(items) > 40:
                console.print(f"  … {len(items) - 40} more (see --report)")


def _options(dry_run: bool, chunk_size: int, rejects: Path | None, report: Path | None,
             quiet: bool) -> Options:
    return Options(dry_run=dry_run, chunk_size=chunk_size, rejects_path=rejects,
                   report_path=report, show_progress=not quiet)


@load_app.command("roster", help=(
    "The registry's own roster CSV, one row per employment stint; rows with the same "
    "source_person_id are one person (columns and allowed values: loaders/roster.py and the "
    "README)."))
def roster(file: FileArg, dry_run: DryRun = False, chunk_size: ChunkSize = 50_000,
           rejects: Rejects = None, report: ReportPath = None, quiet: Quiet = False) -> None:
    from loaders.roster import Roster
    from loaders.stints import load_stints

    _run(lambda s, o: load_stints(Roster(), file, s, o),
         _options(dry_run, chunk_size, rejects, report, quiet))


@load_app.command("npi", help=(
    "A National Police Index file of one state (person_nbr, first_name, middle_name, "
    "last_name, agency_name, start_date, end_date, separation_reason, rank, "
    "current_certificate_status, certification_type, type)."))
def npi(file: FileArg,
        state: Annotated[str, typer.Option(help="The state the NPI file covers (VA, FL...).")],
        dry_run: DryRun = False, chunk_size: ChunkSize = 50_000, rejects: Rejects = None,
        report: ReportPath = None, quiet: Quiet = False) -> None:
    from loaders.npi import NationalPoliceIndex
    from loaders.stints import load_stints

    try:
        kind = NationalPoliceIndex(state)
    except ValueError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
    _run(lambda s, o: load_stints(kind, file, s, o),
         _options(dry_run, chunk_size, rejects, report, quiet))


@load_app.command("fl-post", help=(
    "The Florida POST (CJSTC) employment-history export, one row per employment record; "
    "separation codes are mapped by the table SEPARATION_CODES in loaders/fl_post.py, and an "
    "unknown code is a reject."))
def fl_post(file: FileArg, dry_run: DryRun = False, chunk_size: ChunkSize = 50_000,
            rejects: Rejects = None, report: ReportPath = None, quiet: Quiet = False) -> None:
    from loaders.fl_post import FloridaPost
    from loaders.stints import load_stints

    _run(lambda s, o: load_stints(FloridaPost(), file, s, o),
         _options(dry_run, chunk_size, rejects, report, quiet))


@load_app.command("va-dcjs", help=(
    "The Virginia DCJS decertification list workbook as released (.xlsx, four tabs): final "
    "orders, pending cases and reinstatements, with agency names matched to the DCJS "
    "directory."))
def va_dcjs(file: FileArg,
            directory: Annotated[Path | None, typer.Option(
                exists=True, dir_okay=False,
                help="The DCJS agency directory CSV (default: certified_directory.csv beside "
                     "the workbook).")] = None,
            dry_run: DryRun = False, chunk_size: ChunkSize = 500, rejects: Rejects = None,
            report: ReportPath = None, quiet: Quiet = False) -> None:
    from loaders.va_dcjs import load_va_dcjs

    _run(lambda s, o: load_va_dcjs(file, s, o, directory),
         _options(dry_run, chunk_size, rejects, report, quiet))
