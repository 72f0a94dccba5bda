"""The referral queue: each statutory ground raises one open referral with its evidence, a
dismissed ground comes back only with new evidence, and a change to the grounds file applies to
everyone on re-evaluation."""

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.actors import Actor
from registry.app import create_app
from registry.database import session_scope
from registry.employment import service as employment
from registry.employment.models import SeparationReason
from registry.errors import ReferralNotOpen, ReferralOfficerMismatch
from registry.findings import service as findings
from registry.keys.models import Role
from registry.officers import service as officers
from registry.referrals import service as referrals
from registry.referrals.grounds import DEFAULT_FILE, GroundsConfigError, load_grounds
from registry.referrals.repository import NO_LONGER_MET
from tests.conftest import SYSTEM, data, error_code, gql, row_counts
from tests.test_roles import STAFF

ADMIN = Actor(name="test admin", role=Role.ADMIN)


@pytest.fixture
async def officer(engine, world) -> uuid.UUID:
    """An officer employed at agency A since 2005."""
    async with session_scope(engine) as s:
        o = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Rae", last_name="Whitlock"))
        await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=o.id, agency_id=world.agency_a.id, started_on=date(2005, 1, 1)))
    return o.id


async def report(engine, settings, world, officer, **over) -> uuid.UUID:
    values = {"officer_id": officer, "agency_id": world.agency_a.id,
              "incident_on": date(2019, 4, 2), "reported_on": date(2019, 9, 1),
              "category": "force", "recommended_disposition": "sustained",
              "final_disposition": "sustained", "discipline": "reprimand"}
    values.update(over)
    async with session_scope(engine) as s:
        f = await findings.report_finding(session=s, actor=STAFF, settings=settings,
                                          finding_in=findings.FindingIn(**values))
    return f.id


async def convict(engine, settings, officer, **over) -> uuid.UUID:
    values = {"officer_id": officer, "offense": "Embezzlement", "level": "felony",
              "convicted_on": date(2022, 2, 2)}
    values.update(over)
    async with session_scope(engine) as s:
        c = await findings.report_conviction(session=s, actor=STAFF, settings=settings,
                                             conviction_in=findings.ConvictionIn(**values))
    return c.id


async def open_referrals(engine) -> dict[str, list[dict]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT ground, evidence FROM referrals WHERE status = 'open' ORDER BY ground"))).all()
    return {r.ground: r.evidence for r in rows}


def ev(*items: tuple[str, uuid.UUID]) -> list[dict]:
    return sorted(({"kind": k, "id": str(i)} for k, i in items),
                  key=lambda e: (e["kind"], e["id"]))


async def test_termination_for_dishonesty(engine, settings, world, officer):
    f = await report(engine, settings, world, officer, category="dishonesty",
                     discipline="termination")
    assert await open_referrals(engine) == {"termination_serious_misconduct": ev(("finding", f))}


@pytest.mark.parametrize("over", [
    {"category": "bias", "discipline": "termination"},  # not a listed category
    {"final_disposition": "not_sustained", "discipline": "termination"},
    {"discipline": "suspension", "suspension_days": 29},  # short of the 30 days
    {"discipline": "retraining"},
    {"final_disposition": "pending", "discipline": None},
], ids=["bias", "not-sustained", "29-days", "retraining", "pending"])
async def test_grounds_not_met_raise_nothing(engine, settings, world, officer, over):
    await report(engine, settings, world, officer, **over)
    assert await open_referrals(engine) == {}


@pytest.mark.parametrize("over", [{"discipline": "suspension", "suspension_days": 30},
                                  {"discipline": "demotion", "category": "abuse_of_power"}])
async def test_serious_discipline(engine, settings, world, officer, over):
    f = await report(engine, settings, world, officer, **over)
    assert await open_referrals(engine) == {"serious_discipline": ev(("finding", f))}


async def test_resigned_under_investigation_then_sustained(engine, settings, world, officer):
    """The separation hook: a rehired officer resigns under investigation after a finding
    completed after an earlier separation from the same agency."""
    async with session_scope(engine) as s:
        [stint] = [x for x in await employment.repository.of_people(s, [officer])]
        await employment.report_separation(
            session=s, actor=STAFF, settings=settings, stint_id=stint[1].id,
            separation_in=employment.SeparationIn(date(2018, 1, 31), SeparationReason.RESIGNED))
        second = await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=officer, agency_id=world.agency_a.id, started_on=date(2018, 6, 1)))
    f = await report(engine, settings, world, officer, incident_on=date(2017, 12, 1),
                     reported_on=date(2018, 5, 1), completed_after_separation=True,
                     category="sexual_misconduct")
    assert await open_referrals(engine) == {}  # that separation was a plain resignation
    async with session_scope(engine) as s:
        await employment.report_separation(
            session=s, actor=STAFF, settings=settings, stint_id=second.id,
            separation_in=employment.SeparationIn(
                date(2019, 3, 1), SeparationReason.RESIGNED_UNDER_INVESTIGATION))
    assert await open_referrals(engine) == {
        "separation_in_lieu_of_termination": ev(("finding", f), ("stint", second.id))}


async def test_resignation_in_lieu_then_finding(client, engine, settings, world, officer):
    async with session_scope(engine) as s:
        [(_, stint)] = await employment.repository.of_people(s, [officer])
    await data(client, """mutation($s: ID!) { reportSeparation(stintId: $s, input: {
        endedOn: "2020-01-31", reason: RESIGNED_IN_LIEU_OF_TERMINATION}) { id } }""",
               {"s": str(stint.id)}, token=world.tokens["agency_a"])
    assert await open_referrals(engine) == {}
    f = await report(engine, settings, world, officer, incident_on=date(2019, 11, 1),
                     reported_on=date(2020, 6, 1), completed_after_separation=True)
    assert await open_referrals(engine) == {
        "separation_in_lieu_of_termination": ev(("finding", f), ("stint", stint.id))}


async def test_a_pattern_within_five_years(engine, settings, world, officer):
    f1 = await report(engine, settings, world, officer, incident_on=date(2010, 1, 1),
                      reported_on=date(2010, 2, 1), category="other")
    f2 = await report(engine, settings, world, officer, incident_on=date(2013, 1, 1),
                      reported_on=date(2013, 2, 1), category="bias")
    f3 = await report(engine, settings, world, officer, incident_on=date(2015, 1, 2),
                      reported_on=date(2015, 2, 1), category="other")  # 5 years + 1 day
    await report(engine, settings, world, officer, incident_on=date(2016, 1, 1),
                 reported_on=date(2016, 2, 1), final_disposition="exonerated",
                 discipline="none")
    assert await open_referrals(engine) == {}
    f4 = await report(engine, settings, world, officer, incident_on=date(2017, 6, 1),
                      reported_on=date(2017, 7, 1), category="other")
    assert await open_referrals(engine) == {
        "pattern_of_misconduct": ev(("finding", f2), ("finding", f3), ("finding", f4))}
    assert f1  # outside every 5-year window holding three


async def test_a_pattern_across_merged_records(engine, settings, world, officer):
    async with session_scope(engine) as s:
        dup = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Rae", last_name="Whitlock-Ames"))
        await officers.merge(session=s, actor=SYSTEM, survivor_id=officer, duplicate_id=dup.id,
                             reason="same person")
    ids = [await report(engine, settings, world, who, incident_on=date(2018, m, 1),
                        category="other") for who, m in ((officer, 1), (dup.id, 2), (dup.id, 3))]
    assert await open_referrals(engine) == {
        "pattern_of_misconduct": ev(*(("finding", i) for i in ids))}
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT officer_id FROM referrals"))).scalar_one() == \
            officer


@pytest.mark.parametrize(("over", "met"), [
    ({}, True),
    ({"level": "misdemeanor", "offense": "Assault", "domestic_violence": True}, True),
    ({"level": "misdemeanor", "offense": "Petit LARCENY"}, True),
    ({"level": "misdemeanor", "offense": "Reckless driving"}, False),
], ids=["felony", "domestic-violence", "listed-misdemeanor", "other-misdemeanor"])
async def test_convictions_raise_the_conviction_ground(engine, settings, world, officer, over,
                                                       met):
    c = await convict(engine, settings, officer, **over)
    expected = {"criminal_conviction": ev(("conviction", c))} if met else {}
    assert await open_referrals(engine) == expected


async def test_one_open_referral_per_ground_with_evidence_updated(engine, settings, world,
                                                                  officer):
    f1 = await report(engine, settings, world, officer, discipline="termination")
    f2 = await report(engine, settings, world, officer, discipline="termination",
                      category="criminal_conduct")
    assert await open_referrals(engine) == {
        "termination_serious_misconduct": ev(("finding", f1), ("finding", f2))}
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM referrals"))).scalar_one() == 1


QUEUE = """query($status: ReferralStatus, $first: Int, $after: String) {
  referrals(status: $status, first: $first, after: $after) {
    edges { cursor node { id status detectedAt officer { id }
      ground { code title statute category }
      evidence { __typename ... on Finding { id category } ... on Stint { id }
                 ... on Conviction { id offense } } } }
    pageInfo { hasNextPage endCursor } } }"""
DISMISS = """mutation($id: ID!, $r: String!) { dismissReferral(id: $id, reason: $r) {
  id status dismissedReason decidedBy decidedAt } }"""


async def test_the_queue_and_dismissal(client, engine, settings, world, officer):
    f = await report(engine, settings, world, officer, discipline="termination")
    c = await convict(engine, settings, officer)
    staff = world.tokens["staff"]
    page = (await data(client, QUEUE, {"first": 1}, token=staff))["referrals"]
    [first] = page["edges"]
    assert page["pageInfo"]["hasNextPage"] is True
    node = first["node"]
    assert node["ground"]["code"] == "termination_serious_misconduct"
    assert node["ground"]["statute"] and node["ground"]["category"] == "misconduct"
    assert node["officer"]["id"] == str(officer) and node["status"] == "OPEN"
    assert node["evidence"] == [{"__typename": "Finding", "id": str(f), "category": "FORCE"}]
    rest = (await data(client, QUEUE, {"first": 5, "after": page["pageInfo"]["endCursor"]},
                       token=staff))["referrals"]
    [second] = rest["edges"]
    assert second["node"]["evidence"] == [{"__typename": "Conviction", "id": str(c),
                                           "offense": "Embezzlement"}]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert len((await data(client, QUEUE, {}, token=world.tokens["admin"])
                )["referrals"]["edges"]) == 2
    for who in ("board", "agency_a"):
        assert await error_code(client, QUEUE, {}, token=world.tokens[who]) == "FORBIDDEN"

    counts = await row_counts(engine)
    rid = node["id"]
    for who, reason, code in (("staff", "  ", "BAD_USER_INPUT"), ("admin", "x", "FORBIDDEN"),
                              ("agency_a", "x", "FORBIDDEN")):
        assert await error_code(client, DISMISS, {"id": rid, "r": reason},
                                token=world.tokens[who]) == code
    assert await error_code(client, DISMISS, {"id": str(uuid.uuid4()), "r": "x"},
                            token=staff) == "NOT_FOUND"
    assert await row_counts(engine) == counts
    got = (await data(client, DISMISS, {"id": rid, "r": "discipline reversed on appeal"},
                      token=staff))["dismissReferral"]
    assert got["status"] == "DISMISSED" and got["decidedBy"].startswith("test staff")
    assert got["dismissedReason"] == "discipline reversed on appeal" and got["decidedAt"]
    counts = await row_counts(engine)
    assert await error_code(client, DISMISS, {"id": rid, "r": "again"},
                            token=staff) == "REFERRAL_NOT_OPEN"
    assert await row_counts(engine) == counts
    only_open = (await data(client, QUEUE, {"status": "OPEN"}, token=staff))["referrals"]
    assert [e["node"]["evidence"][0]["__typename"] for e in only_open["edges"]] == ["Conviction"]

    # The same evidence does not raise the dismissed ground again (here: an amendment that
    # changes nothing the ground looks at); new evidence does.
    async with session_scope(engine) as s:
        await findings.amend_finding(
            session=s, actor=STAFF, settings=settings, finding_id=f, reason="typo",
            finding_in=findings.FindingIn(
                officer_id=officer, incident_on=date(2019, 4, 2), reported_on=date(2019, 9, 1),
                category="force", recommended_disposition="sustained",
                final_disposition="sustained", discipline="termination", summary="typo fixed"))
    assert "termination_serious_misconduct" not in await open_referrals(engine)
    f2 = await report(engine, settings, world, officer, discipline="termination",
                      category="dishonesty")
    assert (await open_referrals(engine))["termination_serious_misconduct"] == ev(
        ("finding", f), ("finding", f2))


async def test_cases_take_up_open_referrals(engine, settings, world, officer):
    f = await report(engine, settings, world, officer, discipline="termination")
    c = await convict(engine, settings, officer)
    async with session_scope(engine) as s:
        other = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Bo", last_name="Lindqvist"))
    theirs_c = await convict(engine, settings, other.id)
    async with engine.begin() as conn:
        rows = (await conn.execute(text(
            "SELECT id, officer_id FROM referrals ORDER BY detected_at, id"))).all()
        case_id = (await conn.execute(text(
            "INSERT INTO cases (number, officer_id, opened_by, recorded_by) "
            "VALUES ('T-1', :o, 'test', 'test') RETURNING id"), {"o": officer})).scalar_one()
    mine = [r.id for r in rows if r.officer_id == officer]
    theirs = [r.id for r in rows if r.officer_id != officer]
    async with session_scope(engine) as s:
        grounds, evidence = await referrals.evidence_of(session=s, referral_ids=mine)
    assert grounds == ["criminal_conviction", "termination_serious_misconduct"]
    assert evidence == ev(("finding", f), ("conviction", c))
    with pytest.raises(ReferralOfficerMismatch):
        async with session_scope(engine) as s:
            await referrals.mark_case_opened(session=s, actor=STAFF, referral_ids=mine + theirs,
                                             case_id=case_id, officer_id=officer)
    async with session_scope(engine) as s:
        done = await referrals.mark_case_opened(session=s, actor=STAFF, referral_ids=mine,
                                                case_id=case_id, officer_id=officer)
    assert {(r.status, r.case_id) for r in done} == {("case_opened", case_id)}
    with pytest.raises(ReferralNotOpen):
        async with session_scope(engine) as s:
            await referrals.mark_case_opened(session=s, actor=STAFF, referral_ids=mine[:1],
                                             case_id=case_id, officer_id=officer)
    # Evidence a case already took up does not come back as a new referral.
    await report(engine, settings, world, officer, discipline="reprimand")
    assert await open_referrals(engine) == {"criminal_conviction": ev(("conviction", theirs_c))}


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "grounds.toml"
    path.write_text(body)
    return path


async def test_reevaluation_after_a_rule_change(client, engine, settings, world, officer,
                                                tmp_path):
    short = await report(engine, settings, world, officer, discipline="suspension",
                         suspension_days=10)
    fired = await report(engine, settings, world, officer, discipline="termination",
                         category="dishonesty")
    assert set(await open_referrals(engine)) == {"termination_serious_misconduct"}
    # The state lowers the suspension threshold to 10 days and drops the termination ground.
    body = DEFAULT_FILE.read_text().replace("min_suspension_days = 30", "min_suspension_days = 10")
    start = body.index("[[ground]]\ncode = \"termination_serious_misconduct\"")
    body = body[:start] + body[body.index("[[ground]]", start + 1):]
    changed = settings.model_copy(update={"grounds_file": write(tmp_path, body)})
    app = create_app(changed)
    import httpx2

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app),
                                  base_url="http://registry.test") as c2:
        counts = await row_counts(engine)
        got = (await data(c2, """mutation { reevaluateReferrals { id opened updated closed
            groundsFile } }""", token=world.tokens["admin"]))["reevaluateReferrals"]
        grounds = (await data(c2, "{ grounds { code rule parameters } }",
                              token=world.tokens["staff"]))["grounds"]
    await app.state.engine.dispose()
    assert (got["opened"], got["updated"], got["closed"]) == (1, 0, 1)
    assert got["groundsFile"].endswith("grounds.toml") and got["id"]
    assert "termination_serious_misconduct" not in [g["code"] for g in grounds]
    assert await open_referrals(engine) == {
        "serious_discipline": ev(("finding", short))}
    async with engine.connect() as conn:
        closed = (await conn.execute(text(
            "SELECT dismissed_reason, decided_by FROM referrals WHERE status = 'dismissed'"))
                  ).one()
    assert closed.dismissed_reason == NO_LONGER_MET and closed.decided_by.startswith("test admin")
    after = await row_counts(engine)
    assert after["audit_events"] == counts["audit_events"] + 1
    assert after["referrals"] == counts["referrals"] + 1
    # Running it again finds nothing new.
    async with session_scope(engine) as s:
        _, _, again = await referrals.reevaluate(session=s, actor=ADMIN, settings=changed)
    assert (again.opened, again.updated, again.closed) == (0, 0, 0)
    # Back to the default file: the termination ground comes back (its referral was dismissed
    # by the re-evaluation with the same evidence, so it stays dismissed), the 10-day one goes.
    async with session_scope(engine) as s:
        _, _, back = await referrals.reevaluate(session=s, actor=ADMIN, settings=settings)
    assert (back.opened, back.closed) == (0, 1)
    assert fired


async def test_grounds_query_is_for_staff_and_admins(client, world):
    got = (await data(client, "{ grounds { code title statute category rule } }",
                      token=world.tokens["staff"]))["grounds"]
    assert [g["code"] for g in got] == [g.code for g in load_grounds(
        __import__("registry.settings", fromlist=["Settings"]).Settings()).grounds]
    for who in ("board", "agency_a"):
        body = (await gql(client, "{ grounds { code } }", token=world.tokens[who])).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


GOOD = """[[ground]]
code = "g1"
title = "T"
statute = "S"
category = "misconduct"
rule = "pattern"
"""
BAD_FILES = {
    "unknown key": (GOOD + "colour = 3\n", "ground 'g1': key 'colour'"),
    "unknown allegation": (GOOD + 'allegations = ["rudeness"]\n',
                           "ground 'g1': key 'allegations'"),
    "unknown disposition": (GOOD + 'dispositions = ["maybe"]\n',
                            "ground 'g1': key 'dispositions'"),
    "bad number": (GOOD + "count = 1\n", "ground 'g1': key 'count'"),
    "not a number": (GOOD + 'years = "five"\n', "ground 'g1': key 'years'"),
    "unknown reason": (GOOD.replace('"pattern"', '"separation"')
                       + 'separation_reasons = ["fired"]\n',
                       "ground 'g1': key 'separation_reasons'"),
    "missing reasons": (GOOD.replace('"pattern"', '"separation"'),
                        "ground 'g1': key 'separation_reasons'"),
    "unknown rule": (GOOD.replace('"pattern"', '"vibes"'), "ground 'g1': key 'rule'"),
    "unknown category": (GOOD.replace('"misconduct"', '"naughty"'),
                         "ground 'g1': key 'category'"),
    "key of another rule": (GOOD + "felony = true\n", "ground 'g1': key 'felony'"),
    "duplicate code": (GOOD + "\n" + GOOD, "ground 'g1': key 'code'"),
    "no title": (GOOD.replace('title = "T"\n', ""), "ground 'g1': key 'title'"),
    "bad code": (GOOD.replace('"g1"', '"g 1"'), "ground #1: key 'code'"),
    "not TOML": ("[[ground]\n", "not valid TOML"),
    "top-level key": ("version = 2\n" + GOOD, "unknown top-level key"),
    "empty": ("", "no [[ground]] tables"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_grounds_files_are_refused_naming_the_place(settings, tmp_path, case):
    body, where = BAD_FILES[case]
    path = write(tmp_path, body)
    with pytest.raises(GroundsConfigError) as err:
        load_grounds(settings.model_copy(update={"grounds_file": path}))
    assert str(path) in str(err.value) and where in str(err.value), err.value
    with pytest.raises(GroundsConfigError):  # the service does not start with it
        create_app(settings.model_copy(update={"grounds_file": path}))


def test_a_missing_grounds_file_is_refused(settings, tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(GroundsConfigError, match="nope.toml"):
        load_grounds(settings.model_copy(update={"grounds_file": path}))


def test_the_good_minimal_file_loads(settings, tmp_path):
    [ground] = load_grounds(settings.model_copy(
        update={"grounds_file": write(tmp_path, GOOD)})).grounds
    assert (ground.count, ground.years, ground.dispositions) == (3, 5, ("sustained",))
