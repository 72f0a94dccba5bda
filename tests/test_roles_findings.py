"""Who may report findings and convictions, amend findings, dismiss referrals and re-evaluate
the queue: every mutation of the findings and referrals domains with every role's key."""

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import text

from registry.database import session_scope
from registry.findings import service as findings
from tests.test_roles import (
    STAFF,
    WHO,
    Case,
    Targets,
    check_mutation_by_role,
    targets,  # noqa: F401  (the fixture)
)

FINDING = {"incidentOn": "2019-04-02", "reportedOn": "2019-09-15", "category": "DISHONESTY",
           "recommendedDisposition": "SUSTAINED", "finalDisposition": "SUSTAINED",
           "discipline": "REPRIMAND"}


@dataclass
class More:
    base: Targets
    finding: str  # reported by agency A about ``base.officer``
    referral: str  # open


@pytest.fixture
async def more(engine, settings, targets) -> More:  # noqa: F811
    async with session_scope(engine) as s:
        f = await findings.report_finding(
            session=s, actor=STAFF, settings=settings, finding_in=findings.FindingIn(
                officer_id=targets.officer, agency_id=targets.agency_a,
                incident_on=date(2018, 1, 1), reported_on=date(2018, 3, 1), category="force",
                recommended_disposition="sustained", final_disposition="sustained",
                discipline="termination"))
    async with engine.connect() as conn:
        referral = (await conn.execute(text("SELECT id FROM referrals"))).scalar_one()
    return More(targets, str(f.id), str(referral))


CASES: dict[str, Case] = {
    "reportFinding": Case(
        """mutation($i: FindingInput!) { reportFinding(input: $i) { id } }""",
        lambda m: {"i": {**FINDING, "officerId": m.base.officer, "agencyId": m.base.agency_a}},
        "finding.report", frozenset({"staff", "agency_a"})),
    "amendFinding": Case(
        """mutation($id: ID!, $i: FindingInput!) { amendFinding(id: $id, input: $i,
            reason: "arbitration") { id } }""",
        lambda m: {"id": m.finding, "i": {**FINDING, "officerId": m.base.officer,
                                          "category": "FORCE", "discipline": "SUSPENSION",
                                          "suspensionDays": 40}},
        "finding.amend", frozenset({"staff", "agency_a"})),
    "reportConviction": Case(
        """mutation($i: ConvictionInput!) { reportConviction(input: $i) { id } }""",
        lambda m: {"i": {"officerId": m.base.officer, "agencyId": m.base.agency_a,
                         "offense": "Perjury", "level": "FELONY",
                         "convictedOn": "2020-02-02"}},
        "conviction.report", frozenset({"staff", "agency_a"})),
    "dismissReferral": Case(
        """mutation($id: ID!) { dismissReferral(id: $id, reason: "reversed") { id } }""",
        lambda m: {"id": m.referral}, "referral.dismiss", frozenset({"staff"})),
    "reevaluateReferrals": Case(
        """mutation { reevaluateReferrals { id opened } }""",
        lambda m: {}, "referral.reevaluate", frozenset({"admin"})),
}

MATRIX = [(name, who) for name in CASES for who in WHO]


@pytest.mark.parametrize(("mutation", "who"), MATRIX, ids=[f"{m}-{w}" for m, w in MATRIX])
async def test_mutation_by_role(client, engine, world, more, mutation, who):
    await check_mutation_by_role(client, engine, world, CASES[mutation], mutation, who,
                                 CASES[mutation].variables(more))
