"""``registry load`` and each kind answer --help; a load through the command line prints
its report."""

import pytest
from typer.testing import CliRunner

from registry.cli import app
from tests.loader_helpers import FL

runner = CliRunner()


@pytest.mark.parametrize("args, words", [
    (["load", "--help"], ["roster", "npi", "fl-post", "va-dcjs", "rejects"]),
    (["load", "roster", "--help"], ["--dry-run", "--chunk-size", "--rejects", "--report"]),
    (["load", "npi", "--help"], ["--state", "--dry-run"]),
    (["load", "fl-post", "--help"], ["SEPARATION_CODES", "--dry-run"]),
    (["load", "va-dcjs", "--help"], ["--directory", "--dry-run"]),
])
def test_help(args, words):
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    for word in words:
        assert word in result.output, (word, result.output)


@pytest.mark.skipif(not FL.exists(), reason="../shared/data is not beside the repo")
def test_load_from_the_command_line(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_DATABASE_URL", settings.database_url)
    from registry.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, [
            "load", "fl-post", str(FL / "fl-post.csv"), "--quiet", "--rejects",
            str(tmp_path / "r.csv"), "--report", str(tmp_path / "report.json")],
            terminal_width=200)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "stints created" in result.output
    assert (tmp_path / "report.json").exists()
    missing = runner.invoke(app, ["load", "roster", str(FL / "fl-post.csv"), "--quiet",
                                  "--rejects", str(tmp_path / "x.csv")])
    assert missing.exit_code == 1
