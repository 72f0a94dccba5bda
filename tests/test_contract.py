"""The API contract outside systems call: the printed schemas, the named operations in
graphql/operations, the command line, and a migration history that matches the models."""

import asyncio
from pathlib import Path

import click
import pytest
import typer
from graphql import OperationDefinitionNode, parse, validate
from sqlmodel import SQLModel
from typer.testing import CliRunner

from registry import migrations
from registry.api.schema import schema
from registry.cli import app, printed_schemas
from registry.database import execute
from registry.transparency.schema import public_schema
from tests.conftest import ROOT, _database

OPERATIONS = ROOT / "graphql" / "operations"


def test_checked_in_schemas_match_the_code():
    for name, text in printed_schemas().items():
        assert (ROOT / "graphql" / name).read_text() == text, (
            f"graphql/{name} drifted from the code; run `registry schema --write`")


def test_schema_check_command_passes_and_fails_on_drift(tmp_path, monkeypatch):
    runner = CliRunner()
    assert runner.invoke(app, ["schema", "--check"]).exit_code == 0
    import registry.cli as cli

    drifted = tmp_path / "graphql"
    drifted.mkdir()
    (drifted / "schema.graphql").write_text("type Query { stale: Int }\n")
    (drifted / "public.graphql").write_text(printed_schemas()["public.graphql"])
    monkeypatch.setattr(cli, "GRAPHQL_DIR", drifted)
    result = runner.invoke(app, ["schema", "--check"])
    assert result.exit_code == 1
    assert "stale" in result.output


@pytest.mark.parametrize(
    "path", sorted(OPERATIONS.rglob("*.graphql")), ids=lambda p: str(p.relative_to(OPERATIONS)))
def test_named_operations_validate(path: Path):
    target = public_schema if path.parent.name == "public" else schema
    document = parse(path.read_text())
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert operations and all(op.name for op in operations), "operations must be named"
    assert operations[0].name.value == path.stem, "file name = operation name"
    assert validate(target.graphql_schema, document) == []


def test_private_fields_do_not_exist_in_the_public_schema():
    printed = (ROOT / "graphql" / "public.graphql").read_text()
    for private in ("dateOfBirth", "postId", "sourceRecords", "audit", "Mutation", "recordIds",
                    "birth", "race", "sex"):
        assert private not in printed, private


def _commands(group: click.Command, path: list[str]) -> list[list[str]]:
    """Every command and sub-command the CLI has, so a new one cannot skip ``--help``."""
    found = [path]
    for name, sub in getattr(group, "commands", {}).items():
        found += _commands(sub, [*path, name])
    return found


COMMANDS = _commands(typer.main.get_command(app), [])


def test_the_cli_lists_the_commands_the_readme_documents():
    names = {" ".join(c) for c in COMMANDS}
    assert {"serve", "db upgrade", "keys create", "schema", "audit verify", "checks evaluate",
            "notifications deliver"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "registry")
def test_every_command_has_help(command: list[str]):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_migrations_match_the_models_and_downgrade_cleanly(server_url: str):
    """Upgrade a fresh database, compare every model table's columns with what the migration
    built, then downgrade to nothing and upgrade again."""
    import registry.api.schema  # noqa: F401  (imports every domain's models)

    name = "test_migration_roundtrip"
    asyncio.run(execute(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
                       f"CREATE DATABASE {name}"))
    url = _database(server_url, name)
    try:
        migrations.upgrade(url)
        columns = asyncio.run(_columns(url))
        for table in SQLModel.metadata.sorted_tables:
            assert table.name in columns, f"migration does not create {table.name}"
            model = {c.name: c.nullable for c in table.columns}
            built = columns[table.name]
            assert set(model) == set(built), (table.name, set(model) ^ set(built))
            for column, nullable in built.items():
                if not table.c[column].primary_key:
                    assert table.c[column].nullable or not nullable, (table.name, column)
        migrations.downgrade(url, "base")
        assert asyncio.run(_columns(url)).keys() <= {"alembic_version"}
        migrations.upgrade(url)
    finally:
        asyncio.run(execute(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _columns(url: str) -> dict[str, dict[str, bool]]:
    import asyncpg

    from registry.database import asyncpg_url

    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, is_nullable = 'YES' AS nullable "
            "FROM information_schema.columns WHERE table_schema = 'public'")
    finally:
        await conn.close()
    out: dict[str, dict[str, bool]] = {}
    for r in rows:
        out.setdefault(r["table_name"], {})[r["column_name"]] = r["nullable"]
    return out
