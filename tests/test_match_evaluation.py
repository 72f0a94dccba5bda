"""The labeled evaluation set of background-check matching (registry/background_checks/
evaluation.py) and ``registry checks evaluate``: the issue's targets hold on a small set hidden
among a synthetic state, every variant really occurs, and the command runs."""

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from typer.testing import CliRunner

from registry.background_checks.candidate import first_name_forms
from registry.background_checks.evaluation import (
    ABSENT_VARIANTS,
    NAMESAKE_KINDS,
    VARIANTS,
    Evaluation,
    EvaluationSet,
    LabeledCandidate,
    evaluate,
    insert_records,
    plan_evaluation_set,
)
from registry.cli import app
from registry.database import asyncpg_url, create_engine, execute
from registry.names import fold
from registry.settings import Settings
from registry.synthetic import generate
from tests.conftest import TEMPLATE, _database

PEOPLE = 150
BACKGROUND = 2_000
SEED = 11


@dataclass
class Evaluated:
    url: str
    plan: EvaluationSet
    result: Evaluation


async def _evaluate(url: str) -> tuple[EvaluationSet, Evaluation]:
    settings = Settings(database_url=url)
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        await generate(conn, officers=BACKGROUND, agencies=30, seed=SEED)
        plan = plan_evaluation_set(people=PEOPLE, seed=SEED)
        await insert_records(conn, plan.records)
    finally:
        await conn.close()
    engine = create_engine(url, settings)
    try:
        async with engine.connect() as connection:
            result = await evaluate(connection, plan.candidates,
                                    threshold=settings.match_threshold,
                                    trigram_floor=settings.match_trigram_floor,
                                    limit=settings.match_limit)
    finally:
        await engine.dispose()
    return plan, result


@pytest.fixture(scope="module")
def evaluated(server_url: str) -> Iterator[Evaluated]:
    """One evaluation for the module: loading the synthetic state is the slow part."""
    name = f"test_eval_{uuid.uuid4().hex[:12]}"
    asyncio.run(execute(server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    url = _database(server_url, name)
    try:
        plan, result = asyncio.run(_evaluate(url))
        yield Evaluated(url, plan, result)
    finally:
        asyncio.run(execute(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _misses(result: Evaluation) -> str:
    return "\n".join(m.describe() for m in result.misses)


def test_the_issue_targets_hold(evaluated: Evaluated) -> None:
    r = evaluated.result
    assert r.present >= PEOPLE and r.absent > 0
    assert r.recall_at_3 >= 0.98, _misses(r)
    assert r.recall_at_1 >= 0.95, _misses(r)
    assert r.certificate_candidates > 0
    assert r.certificate_first == 1.0, _misses(r)


def test_few_people_not_in_the_registry_are_reported(evaluated: Evaluated) -> None:
    r = evaluated.result
    with_birth = [r.by_variant[v] for v in ("absent", "absent_namesake")]
    reported = sum(v.false_positives for v in with_birth)
    assert reported / sum(v.candidates for v in with_birth) <= 0.1, _misses(r)
    # Name-only candidates are weaker evidence, but most still find no one.
    assert r.false_positive_rate <= 0.15, _misses(r)
    assert r.precision_at_threshold >= 0.7


def _edits(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one)."""
    d = [[max(i, j) if min(i, j) == 0 else 0 for j in range(len(b) + 1)]
         for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _flat(name: str | None) -> str:
    return fold(name).replace(" ", "")


def _is_variant(item: LabeledCandidate) -> bool:
    """Whether the candidate differs from its record as its label says."""
    typed, r = item.entered, item.record
    first, last = typed["first_name"], typed["last_name"]
    dob = typed.get("date_of_birth")
    if r is None:
        return item.expected is None and (dob is None) == (item.variant == "absent_no_dob")
    full = r.birth.day is not None
    if item.variant == "exact":
        return (first, typed["middle_name"], last) == (r.first, r.middle, r.last) and (
            dob == str(r.birth) or not full)
    if item.variant == "nickname":
        return fold(first) != fold(r.first) and fold(r.first) in first_name_forms(fold(first))
    if item.variant in ("first_typo", "last_typo"):
        typed_part, record_part = (first, r.first) if item.variant == "first_typo" else (
            last, r.last)
        return _edits(fold(typed_part), fold(record_part)) == 1
    if item.variant == "compound_part":
        return _flat(last) != _flat(r.last) and fold(last) in fold(r.last)
    if item.variant == "compound_added":
        return "-" in last and fold(r.last) in fold(last)
    if item.variant == "prior_as_last":
        return any(o.kind in ("maiden", "prior") and o.last == last for o in r.other_names)
    if item.variant == "prior_in_prior_names":
        return last != r.last and any(
            o.last in p for o in r.other_names for p in typed["prior_names"])
    if item.variant == "renamed_since":
        return not r.other_names and last != r.last and any(
            r.last in p for p in typed["prior_names"])
    if item.variant == "swapped":
        return (first, last) == (r.last, r.first)
    if item.variant == "first_initial":
        return fold(first) == fold(r.first)[0]
    if item.variant == "middle_as_first":
        return first == r.middle and fold(first) != fold(r.first)
    if item.variant == "suffix_dropped":
        return r.suffix is not None and typed["suffix"] is None
    if item.variant == "suffix_added":
        return r.suffix is None and typed["suffix"] is not None
    if item.variant == "accents_punctuation":
        marked = f"{r.first} {r.last}"
        return (not marked.isascii() or "'" in marked) and f"{first} {last}".isascii() \
            and "'" not in f"{first} {last}"
    if item.variant == "dob_transposed":
        return dob == f"{r.birth.year:04d}-{r.birth.day:02d}-{r.birth.month:02d}" \
            and r.birth.day != r.birth.month
    if item.variant == "dob_year_only":
        return dob == f"{r.birth.year:04d}"
    if item.variant == "no_dob":
        return dob is None and (first, last) == (r.first, r.last)
    if item.variant == "certificate":
        return [(c["state"], c["number"].upper()) for c in typed["certificate_numbers"]] == [
            ("VA", r.certificate)]
    return False


def test_every_variant_occurs_as_labeled(evaluated: Evaluated) -> None:
    plan = evaluated.plan
    counts = {v: 0 for v in (*VARIANTS, *ABSENT_VARIANTS)}
    for item in plan.candidates:
        counts[item.variant] += 1
        assert _is_variant(item), (item.variant, item.entered, item.record)
    assert all(counts.values()), counts
    # Mostly a full date of birth, as applications ask; about a tenth name only.
    no_birth = sum(item.entered.get("date_of_birth") is None for item in plan.candidates)
    assert 0.05 <= no_birth / len(plan.candidates) <= 0.15
    roles = {r.role for r in plan.records}
    assert roles == {"true", *NAMESAKE_KINDS}


def test_the_set_is_in_the_database_and_the_same_for_a_seed(evaluated: Evaluated) -> None:
    plan = evaluated.plan

    async def counts() -> tuple[int, int, int]:
        conn = await asyncpg.connect(asyncpg_url(evaluated.url))
        try:
            return (
                await conn.fetchval("SELECT count(*) FROM officers "
                                    "WHERE recorded_by = 'evaluation'"),
                await conn.fetchval("SELECT count(*) FROM officer_names n JOIN officers o "
                                    "ON o.id = n.officer_id WHERE o.recorded_by = 'evaluation'"),
                await conn.fetchval("SELECT count(DISTINCT officer_id) FROM match_keys k "
                                    "JOIN officers o ON o.id = k.officer_id "
                                    "WHERE o.recorded_by = 'evaluation'"))
        finally:
            await conn.close()

    officers, other_names, keyed = asyncio.run(counts())
    assert officers == keyed == len(plan.records)
    assert other_names == sum(len(r.other_names) for r in plan.records) > 0
    again = plan_evaluation_set(people=PEOPLE, seed=SEED)
    assert again.records == plan.records
    assert [c.entered for c in again.candidates] == [c.entered for c in plan.candidates]


def test_checks_evaluate_help() -> None:
    result = CliRunner().invoke(app, ["checks", "evaluate", "--help"])
    assert result.exit_code == 0
    for option in ("--people", "--background", "--seed", "--database-url"):
        assert option in result.output


def test_checks_evaluate_runs_on_a_given_database(database_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    args = ["checks", "evaluate", "--people", "25", "--background", "300", "--seed", "3",
            "--database-url", database_url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for measure in ("recall@1", "recall@3", "recall at threshold", "precision at threshold",
                    "false-positive rate", "certificate given", "nickname", "no_dob"):
        assert measure in result.output
    # The evaluation inserts people of its own: a database that has officers is refused.
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already holds officers" in again.output
