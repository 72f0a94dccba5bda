"""The command line against a real database: keys and the audit chain."""

import asyncio
import re

import pytest
from click.testing import Result
from typer.testing import CliRunner

from registry.cli import app
from registry.settings import get_settings
from tests.conftest import data, row_counts


class Cli:
    """Runs `registry ...` in a thread: the commands start their own event loop."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> Result:
        return await asyncio.to_thread(self.runner.invoke, app, list(args))


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables fit on one line per key
    get_settings.cache_clear()
    yield Cli()
    get_settings.cache_clear()


async def test_keys_create_list_revoke(cli, client, world):
    created = await cli("keys", "create", "--role", "agency", "--agency", "VA1220000",
                        "--name", "Richmond records unit")
    assert created.exit_code == 0, created.output
    token = re.search(r"reg_[0-9a-f]{32}_\S+", created.output).group(0)
    me = await data(client, "{ me { name role agency { ori } } }", token=token)
    assert me["me"] == {"name": "Richmond records unit", "role": "AGENCY",
                        "agency": {"ori": "VA1220000"}}

    listed = await cli("keys", "list")
    assert listed.exit_code == 0 and "Richmond records unit" in listed.output
    assert token not in listed.output

    key_id = re.search(r"Created key ([0-9a-f-]{36})", created.output).group(1)
    assert (await cli("keys", "revoke", key_id)).exit_code == 0
    response = await client.post("/graphql", json={"query": "{ me { name } }"},
                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_keys_create_refuses_bad_input(cli, world, engine):
    before = await row_counts(engine)
    no_agency = await cli("keys", "create", "--role", "agency", "--name", "x")
    assert no_agency.exit_code == 1 and "ORI" in no_agency.output
    unknown = await cli("keys", "create", "--role", "agency", "--agency", "VA9999999",
                        "--name", "x")
    assert unknown.exit_code == 1 and "No agency" in unknown.output
    bad_role = await cli("keys", "create", "--role", "sheriff", "--name", "x")
    assert bad_role.exit_code != 0
    assert (await cli("keys", "revoke", "not-a-uuid")).exit_code == 1
    assert await row_counts(engine) == before


async def test_audit_verify_reports_intact_chain(cli, client, world):
    await data(client, "mutation { registerOfficer(input: {firstName: \"Ann\", lastName: "
                       "\"Lee\"}) { id } }", token=world.tokens["staff"])
    result = await cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "Audit chain intact" in result.output
    assert re.search(r"Audit chain intact: (\d+) events", result.output).group(1) != "0"
