"""Who may submit to the NDI: the submitNdiExport mutation with every role's key (POST staff
only). The export needs no records to be allowed: an empty submission is still recorded. With
REGISTRY_NDI_UNDER_INVESTIGATION a pending case goes out the same way, and only then."""

import uuid

import pytest
from sqlalchemy import text

from registry.actors import Actor
from registry.cases import service as cases
from registry.database import session_scope
from registry.keys.models import Role
from tests.case_helpers import GROUND
from tests.test_roles import (
    STAFF_ONLY,
    WHO,
    Case,
    check_mutation_by_role,
    targets,  # noqa: F401  (the fixture)
)

CASES: dict[str, Case] = {
    "submitNdiExport": Case(
        """mutation { submitNdiExport(scope: SINCE_LAST) { id records { recordId } } }""",
        lambda t: {}, "ndi.export", STAFF_ONLY),
}

MATRIX = [(name, who) for name in CASES for who in WHO]


@pytest.mark.parametrize(("mutation", "who"), MATRIX, ids=[f"{m}-{w}" for m, w in MATRIX])
async def test_mutation_by_role(client, engine, world, targets, mutation, who):  # noqa: F811
    await check_mutation_by_role(client, engine, world, CASES[mutation], mutation, who,
                                 CASES[mutation].variables(targets))


@pytest.mark.parametrize("who", WHO)
async def test_only_post_staff_send_under_investigation_records(client, engine, settings,
                                                                world, targets, who):  # noqa: F811
    settings.ndi_under_investigation = True  # the app's own settings
    async with session_scope(engine) as s:
        case = await cases.open_case(session=s, actor=Actor(name="staff", role=Role.POST_STAFF),
                                     settings=settings, officer_id=uuid.UUID(targets.officer),
                                     grounds=[GROUND])
    await check_mutation_by_role(client, engine, world, CASES["submitNdiExport"],
                                 "submitNdiExport", who, {})
    async with engine.connect() as conn:
        sent = (await conn.execute(text(
            "SELECT record_id, record_type FROM ndi_submission_records WHERE case_id = :c"),
            {"c": case.id})).all()
    assert [tuple(r) for r in sent] == ([(f"VA-{case.id}", "new")] if who == "staff" else [])
