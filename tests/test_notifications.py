"""Notifications to agencies that checked an officer: who is told of a later sustained
finding, separation under investigation or final order, who is not, and signed webhook
deliveries to a real HTTP receiver on the loopback interface."""

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from registry.app import create_app
from registry.cli import app as cli_app
from registry.database import session_scope
from registry.dates import PartialDate
from registry.employment import service as employment
from registry.findings import service as findings
from registry.notifications import webhooks
from registry.officers import service as officers
from registry.settings import get_settings
from tests.case_helpers import case_to, officer_with_cert, seat_board
from tests.conftest import SYSTEM, data, error_code, gql, row_counts
from tests.test_roles import STAFF

CHECK = """query($c: CandidateInput!) { backgroundCheck(candidate: $c, purpose: HIRING) {
  checkId matches { officer { id } } } }"""
NOTIFICATIONS = """query($first: Int, $after: String, $agency: ID) {
  notifications(first: $first, after: $after, agencyId: $agency) {
    edges { cursor node { id kind summary createdAt officer { id fullName } agency { id }
      checkId entityType entityId
      delivery { id status attempts nextAttemptAt lastStatusCode lastError deliveredAt } } }
    pageInfo { hasNextPage endCursor } } }"""
REPORT = """mutation($i: FindingInput!) { reportFinding(input: $i) { id } }"""
AMEND = """mutation($id: ID!, $i: FindingInput!) { amendFinding(id: $id, input: $i,
  reason: "arbitration") { id finalDisposition } }"""
SEPARATE = """mutation($s: ID!, $on: Date!, $r: SeparationReason!) {
  reportSeparation(stintId: $s, input: {endedOn: $on, reason: $r}) { id } }"""
SET_HOOK = """mutation($url: String!) { setNotificationWebhook(url: $url) {
  id url secret createdAt agency { id } } }"""
REMOVE_HOOK = "mutation { removeNotificationWebhook }"


@dataclass
class Scene:
    officer: str  # Dana Whitfield, 1985-04-12, employed at agency B since 2015
    stint: str  # that stint
    bystander: str  # Rowan Pike, also at B, checked by nobody
    bystander_stint: str


@pytest.fixture
async def scene(engine, world) -> Scene:
    async with session_scope(engine) as s:
        dana = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Dana", last_name="Whitfield", birth_date=PartialDate.parse("1985-04-12")))
        rowan = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Rowan", last_name="Pike", birth_date=PartialDate.parse("1979-11-02")))
        stints = [await employment.report_hire(session=s, actor=STAFF, hire_in=employment.HireIn(
            officer_id=o.id, agency_id=world.agency_b.id, started_on=date(2015, 1, 1)))
            for o in (dana, rowan)]
    return Scene(str(dana.id), str(stints[0].id), str(rowan.id), str(stints[1].id))


async def check(client, world, who: str, first: str = "Dana", last: str = "Whitfield",
                dob: str = "1985-04-12") -> dict:
    """``who`` runs a hiring background check; the check's id and the people returned."""
    got = (await data(client, CHECK, {"c": {"firstName": first, "lastName": last,
                                            "dateOfBirth": dob}},
                      token=world.tokens[who]))["backgroundCheck"]
    return {"id": got["checkId"], "people": [m["officer"]["id"] for m in got["matches"]]}


def finding(officer: str, **over) -> dict:
    return {"officerId": officer, "incidentOn": "2024-01-10", "reportedOn": "2024-03-01",
            "category": "DISHONESTY", "recommendedDisposition": "SUSTAINED",
            "finalDisposition": "SUSTAINED", "discipline": "REPRIMAND", **over}


async def notes(client, world, who: str, **variables) -> list[dict]:
    got = await data(client, NOTIFICATIONS, variables, token=world.tokens[who])
    return [e["node"] for e in got["notifications"]["edges"]]


async def count(engine, sql: str, **params) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def test_a_sustained_finding_reaches_the_agencies_that_checked(client, engine, world,
                                                                     scene):
    a_check = await check(client, world, "agency_a")
    assert scene.officer in a_check["people"]
    await check(client, world, "agency_b")  # B checks too, then reports the finding itself
    reported = (await data(client, REPORT, {"i": finding(scene.officer)},
                           token=world.tokens["agency_b"]))["reportFinding"]["id"]

    [note] = await notes(client, world, "agency_a")
    assert note["kind"] == "SUSTAINED_FINDING"
    assert note["summary"] == ("Sustained finding (dishonesty) reported by Henrico County "
                               "Police Division")
    assert note["officer"] == {"id": scene.officer, "fullName": "Dana Whitfield"}
    assert note["agency"] == {"id": str(world.agency_a.id)}
    assert note["checkId"] == a_check["id"]
    assert (note["entityType"], note["entityId"]) == ("finding", reported)
    assert note["delivery"] is None  # agency A has no webhook
    # The reporting agency is not told of its own report, though it checked the officer.
    assert await notes(client, world, "agency_b") == []
    # POST staff and administrators read everyone's, or one agency's.
    for who in ("staff", "admin"):
        assert [n["id"] for n in await notes(client, world, who)] == [note["id"]]
        assert await notes(client, world, who, agency=str(world.agency_b.id)) == []
        assert len(await notes(client, world, who, agency=str(world.agency_a.id))) == 1
    assert await count(engine, "SELECT count(*) FROM audit_events "
                               "WHERE operation = 'notification.notify'") == 1

    # Amendments: away from sustained and back tells nobody a second time.
    for disposition in ("SUSTAINED", "NOT_SUSTAINED", "SUSTAINED"):
        extra = {"discipline": None} if disposition != "SUSTAINED" else {}
        got = (await data(client, AMEND, {"id": reported, "i": finding(
            scene.officer, finalDisposition=disposition, **extra)},
                          token=world.tokens["agency_b"]))["amendFinding"]
        assert got["finalDisposition"] == disposition
    assert [n["id"] for n in await notes(client, world, "agency_a")] == [note["id"]]
    assert await count(engine, "SELECT count(*) FROM notifications") == 1


async def test_a_finding_sustained_by_amendment_notifies_once(client, engine, world, scene):
    await check(client, world, "agency_a")
    pending = finding(scene.officer, finalDisposition="PENDING", discipline=None)
    reported = (await data(client, REPORT, {"i": pending}, token=world.tokens["agency_b"])
                )["reportFinding"]["id"]
    assert await notes(client, world, "agency_a") == []
    await data(client, AMEND, {"id": reported, "i": finding(scene.officer)},
               token=world.tokens["staff"])
    [note] = await notes(client, world, "agency_a")
    assert note["entityId"] == reported and note["kind"] == "SUSTAINED_FINDING"
    # A second amendment of the now sustained finding: still one.
    await data(client, AMEND, {"id": reported, "i": finding(scene.officer,
                                                            discipline="TERMINATION")},
               token=world.tokens["agency_b"])
    assert len(await notes(client, world, "agency_a")) == 1


async def test_a_separation_under_investigation_notifies(client, world, scene):
    await check(client, world, "agency_a")
    await check(client, world, "agency_a", "Rowan", "Pike", "1979-11-02")
    # A plain resignation tells nobody.
    await data(client, SEPARATE, {"s": scene.bystander_stint, "on": "2024-04-30",
                                  "r": "RESIGNED"}, token=world.tokens["agency_b"])
    assert await notes(client, world, "agency_a") == []
    await data(client, SEPARATE, {"s": scene.stint, "on": "2024-05-01",
                                  "r": "RESIGNED_UNDER_INVESTIGATION"},
               token=world.tokens["agency_b"])
    [note] = await notes(client, world, "agency_a")
    assert note["kind"] == "SEPARATION_UNDER_INVESTIGATION"
    assert note["summary"] == ("Separation while under investigation from Henrico County "
                               "Police Division (resigned under investigation, 2024-05-01)")
    assert (note["entityType"], note["entityId"]) == ("stint", scene.stint)
    assert note["officer"]["id"] == scene.officer
    assert await notes(client, world, "agency_b") == []


async def test_a_final_order_notifies_and_no_action_does_not(client, engine, world):
    board = await seat_board(engine, world)
    officer, _ = await officer_with_cert(client, world, "Okafor", "VA-0001")
    cleared, _ = await officer_with_cert(client, world, "Lindqvist", "VA-0002")
    for last in ("Okafor", "Lindqvist"):
        got = await check(client, world, "agency_b", "Dana", last, None)
        assert got["people"], last
    case = await case_to(client, world, board, officer, "final_order")
    await case_to(client, world, board, cleared, "final_order", outcome="NO_ACTION")
    number = (await data(client, "query($id: ID!) { case(id: $id) { number finalOrder { id } } }",
                         {"id": case}, token=world.tokens["staff"]))["case"]
    [note] = await notes(client, world, "agency_b")
    assert note["kind"] == "FINAL_ORDER"
    assert note["summary"] == (f"Final order: revocation effective 2024-03-15 "
                               f"(case {number['number']})")
    assert note["entityType"] == "final_order" and note["officer"]["id"] == officer
    assert await notes(client, world, "agency_a") == []


async def _old_hit(engine, agency_id: uuid.UUID, officer: str, days: int) -> None:
    """A check of ``officer`` by ``agency_id`` run ``days`` ago (hits are INSERT-only)."""
    async with engine.begin() as conn:
        check_id = (await conn.execute(text("""
            INSERT INTO background_checks (actor, role, agency_id, purpose, candidate,
              input_hash, matches, threshold, run_at)
            VALUES ('old key', 'agency', :a, 'hiring', '{}', 'x', '[]', 0.5,
              now() - make_interval(days => :d)) RETURNING id"""),
                                     {"a": agency_id, "d": days})).scalar_one()
        await conn.execute(text("""
            INSERT INTO background_check_hits (check_id, officer_id, agency_id, rank, score,
              run_at)
            SELECT id, :o, agency_id, 1, 0.9, run_at FROM background_checks WHERE id = :c"""),
                           {"o": uuid.UUID(officer), "c": check_id})


async def test_checks_older_than_the_window_do_not_notify(client, engine, settings, world,
                                                          scene):
    await _old_hit(engine, world.agency_a.id, scene.officer, days=400)
    await data(client, REPORT, {"i": finding(scene.officer)}, token=world.tokens["agency_b"])
    assert await notes(client, world, "agency_a") == []
    # The window is configuration: 500 days reaches the same check.
    wider = settings.model_copy(update={"notify_window_days": 500})
    async with session_scope(engine) as s:
        await findings.report_finding(session=s, actor=STAFF, settings=wider,
                                      finding_in=findings.FindingIn(
                                          officer_id=uuid.UUID(scene.officer),
                                          agency_id=world.agency_b.id,
                                          incident_on=date(2024, 2, 1),
                                          reported_on=date(2024, 3, 1), category="force",
                                          recommended_disposition="sustained",
                                          final_disposition="sustained"))
    [note] = await notes(client, world, "agency_a")
    assert note["summary"].startswith("Sustained finding (force)")


async def test_a_check_of_a_record_later_merged_counts(client, engine, world, scene):
    """Agency A's check returned a record that was then merged into another: a finding on
    the survivor reaches A."""
    async with session_scope(engine) as s:
        twin = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Morgan", last_name="Quill",
            birth_date=PartialDate.parse("1990-06-06")))
    got = await check(client, world, "agency_a", "Morgan", "Quill", "1990-06-06")
    assert got["people"] == [str(twin.id)]
    async with session_scope(engine) as s:
        await officers.merge(session=s, actor=SYSTEM, survivor_id=uuid.UUID(scene.officer),
                             duplicate_id=twin.id, reason="same person")
    await data(client, REPORT, {"i": finding(scene.officer)}, token=world.tokens["agency_b"])
    [note] = await notes(client, world, "agency_a")
    assert note["checkId"] == got["id"] and note["officer"]["id"] == scene.officer


async def test_notifications_page_newest_first(client, world, scene):
    await check(client, world, "agency_a")
    ids = []
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        ids.append((await data(client, REPORT, {"i": finding(scene.officer, incidentOn=day)},
                               token=world.tokens["agency_b"]))["reportFinding"]["id"])
    first = (await data(client, NOTIFICATIONS, {"first": 2}, token=world.tokens["agency_a"])
             )["notifications"]
    assert [e["node"]["entityId"] for e in first["edges"]] == [ids[2], ids[1]]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await data(client, NOTIFICATIONS, {"first": 2,
                                               "after": first["pageInfo"]["endCursor"]},
                       token=world.tokens["agency_a"]))["notifications"]
    assert [e["node"]["entityId"] for e in rest["edges"]] == [ids[0]]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_who_may_read_notifications(client, world, scene):
    a, b = str(world.agency_a.id), str(world.agency_b.id)
    assert await error_code(client, NOTIFICATIONS, {"agency": b},
                            token=world.tokens["agency_a"]) == "FORBIDDEN"
    assert await notes(client, world, "agency_a", agency=a) == []
    assert await error_code(client, NOTIFICATIONS, {},
                            token=world.tokens["board"]) == "FORBIDDEN"
    assert await error_code(client, NOTIFICATIONS, {"agency": "nope"},
                            token=world.tokens["staff"]) == "BAD_USER_INPUT"
    assert await error_code(client, NOTIFICATIONS, {"after": "forged"},
                            token=world.tokens["staff"]) == "BAD_USER_INPUT"
    assert await error_code(client, NOTIFICATIONS, {"first": 0},
                            token=world.tokens["staff"]) == "BAD_USER_INPUT"


# --- webhooks -------------------------------------------------------------------------------

@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 (an ephemeral port) that answers with ``statuses`` in
    turn (the last one repeats) and keeps every request."""

    url: str
    statuses: list[int]
    requests: list[dict] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="", statuses=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, "headers": dict(self.headers),
                                   "body": body})
            status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/registry-hook"
    yield state
    server.shutdown()
    server.server_close()


async def _due_now(engine) -> None:
    """Make every pending delivery due (instead of sleeping through the backoff)."""
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE webhook_deliveries SET next_attempt_at = now() "
                                "WHERE status = 'pending'"))


async def _delivery(engine) -> dict:
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT status, attempts, last_status_code, last_error, delivered_at, "
            "extract(epoch FROM next_attempt_at - now()) AS wait FROM webhook_deliveries"))
               ).one()
    return dict(row._mapping)


async def test_webhook_delivery_is_signed_retried_and_delivered(client, engine, settings,
                                                                world, scene, receiver):
    setup = (await data(client, SET_HOOK, {"url": receiver.url},
                        token=world.tokens["agency_a"]))["setNotificationWebhook"]
    assert setup["url"] == receiver.url and setup["id"] == str(world.agency_a.id)
    assert len(setup["secret"]) >= 40
    await check(client, world, "agency_a")
    await data(client, REPORT, {"i": finding(scene.officer)}, token=world.tokens["agency_b"])
    [note] = await notes(client, world, "agency_a")
    assert note["delivery"]["status"] == "PENDING" and note["delivery"]["attempts"] == 0

    receiver.statuses = [500, 200]
    quick = settings.model_copy(update={"webhook_first_retry_seconds": 60})
    assert await webhooks.deliver_due(engine, quick) == 1
    first = await _delivery(engine)
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1,
                                                                                500)
    assert first["last_error"] == "HTTP 500" and 55 < first["wait"] <= 60
    assert await webhooks.deliver_due(engine, quick) == 0  # not due yet
    await _due_now(engine)
    assert await webhooks.deliver_due(engine, quick) == 1
    done = await _delivery(engine)
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 2,
                                                                            200)
    assert done["delivered_at"] is not None and done["last_error"] is None
    assert await webhooks.deliver_due(engine, quick) == 0

    assert len(receiver.requests) == 2
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert request["path"] == "/registry-hook"
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Registry-Delivery"] == note["delivery"]["id"]
        signature = headers["X-Registry-Signature"]
        assert webhooks.verify_signature(setup["secret"], signature, body)
        assert not webhooks.verify_signature("not-the-secret", signature, body)
        assert not webhooks.verify_signature(setup["secret"], signature, body + b" ")
        assert not webhooks.verify_signature(setup["secret"], signature, body,
                                             now=time.time() + 301)
        assert setup["secret"] not in json.dumps(headers) + body.decode()
        sent = json.loads(body)["notification"]
        assert sent == {"id": note["id"], "agencyId": str(world.agency_a.id),
                        "officerId": scene.officer, "checkId": note["checkId"],
                        "kind": "sustained_finding", "entityType": "finding",
                        "entityId": note["entityId"], "summary": note["summary"],
                        "createdAt": sent["createdAt"]}
    [note] = await notes(client, world, "agency_a")
    assert note["delivery"]["status"] == "DELIVERED" and note["delivery"]["attempts"] == 2
    assert note["delivery"]["lastStatusCode"] == 200 and note["delivery"]["deliveredAt"]
    assert note["delivery"]["nextAttemptAt"] is None

    # The signature scheme, independently of the helper: HMAC-SHA256 of "<t>.<body>".
    import hmac

    t, v1 = (p.split("=", 1)[1] for p in signature.split(","))
    assert v1 == hmac.new(setup["secret"].encode(), f"{t}.".encode() + body,
                          hashlib.sha256).hexdigest()


async def test_webhook_attempts_exhausted_then_failed(client, engine, settings, world, scene,
                                                      receiver):
    await data(client, SET_HOOK, {"url": receiver.url}, token=world.tokens["agency_a"])
    await check(client, world, "agency_a")
    await data(client, REPORT, {"i": finding(scene.officer)}, token=world.tokens["agency_b"])
    receiver.statuses = [503]
    limited = settings.model_copy(update={"webhook_max_attempts": 3,
                                          "webhook_first_retry_seconds": 10})
    waits = []
    for _ in range(3):
        await _due_now(engine)
        assert await webhooks.deliver_due(engine, limited) == 1
        waits.append((await _delivery(engine))["wait"])
    # The wait doubles after each failure: 10 s, then 20 s; the third failure is the last.
    assert 8 < waits[0] <= 10 and 18 < waits[1] <= 20
    failed = await _delivery(engine)
    assert (failed["status"], failed["attempts"], failed["last_status_code"]) == ("failed", 3,
                                                                                  503)
    assert failed["last_error"] == "HTTP 503"
    await _due_now(engine)
    assert await webhooks.deliver_due(engine, limited) == 0
    assert len(receiver.requests) == 3
    [note] = await notes(client, world, "agency_a")
    assert note["delivery"]["status"] == "FAILED" and note["delivery"]["attempts"] == 3


async def test_webhook_unreachable_and_concurrent_workers(client, engine, settings, world,
                                                          scene, receiver):
    # Nobody listens on this port: the error is recorded and the delivery stays pending.
    with socket_bound() as closed_port:
        await data(client, SET_HOOK, {"url": f"http://127.0.0.1:{closed_port}/x"},
                   token=world.tokens["agency_a"])
    await check(client, world, "agency_a")
    await data(client, REPORT, {"i": finding(scene.officer)}, token=world.tokens["agency_b"])
    assert await webhooks.deliver_due(engine, settings) == 1
    down = await _delivery(engine)
    assert down["status"] == "pending" and down["attempts"] == 1
    assert down["last_status_code"] is None and "ConnectError" in down["last_error"]

    # Two workers at once: the delivery is sent once (SKIP LOCKED and the lease).
    await data(client, SET_HOOK, {"url": receiver.url}, token=world.tokens["agency_a"])
    await _due_now(engine)
    async with httpx.AsyncClient() as shared:
        sent = await asyncio.gather(*(webhooks.deliver_due(engine, settings, client=shared)
                                      for _ in range(4)))
    assert sorted(sent) == [0, 0, 0, 1]
    assert len(receiver.requests) == 1
    assert (await _delivery(engine))["status"] == "delivered"


class socket_bound:
    """A port that was free a moment ago and has no listener."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None


async def test_set_and_remove_webhook(client, engine, world, scene, receiver):
    a = world.tokens["agency_a"]
    first = (await data(client, SET_HOOK, {"url": receiver.url}, token=a)
             )["setNotificationWebhook"]
    second = (await data(client, SET_HOOK, {"url": receiver.url + "/v2"}, token=a)
              )["setNotificationWebhook"]
    assert second["secret"] != first["secret"] and second["url"] == receiver.url + "/v2"
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT url, secret FROM webhooks"))).one()
        events = (await conn.execute(text(
            "SELECT before::text || coalesce(after::text, '') FROM audit_events "
            "WHERE entity_type = 'webhook'"))).scalars().all()
    assert stored.url == receiver.url + "/v2" and stored.secret == second["secret"]
    assert len(events) == 2
    assert not any(s in e for e in events for s in (first["secret"], second["secret"]))

    # A delivery still pending when the webhook goes fails; the notification stays.
    await check(client, world, "agency_a")
    await data(client, REPORT, {"i": finding(scene.officer)}, token=world.tokens["agency_b"])
    assert (await data(client, REMOVE_HOOK, token=a)) == {"removeNotificationWebhook": True}
    [note] = await notes(client, world, "agency_a")
    assert note["delivery"]["status"] == "FAILED"
    assert note["delivery"]["lastError"] == "webhook removed"
    counts = await row_counts(engine)
    assert (await data(client, REMOVE_HOOK, token=a)) == {"removeNotificationWebhook": False}
    assert await row_counts(engine) == counts
    assert await count(engine, "SELECT count(*) FROM audit_events "
                               "WHERE operation = 'webhook.remove'") == 1


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://example.org/hook", "https://"),
    ("https://", "no host"),
    ("example.org/hook", "https://"),
    ("https://exa mple.org/", "spaces"),
    ("https://user:pw@example.org/hook", "password"),
    ("https://example.org:99999/", "not a valid URL"),
    ("https://example.org/" + "x" * 2000, "2000"),
    ("   ", "Give the URL"),
])
async def test_bad_webhook_urls_are_refused(client, engine, world, url, problem):
    counts = await row_counts(engine)
    response = await gql(client, SET_HOOK, {"url": url}, token=world.tokens["agency_a"])
    body = response.json()
    # The mutation's result is non-null: a refusal leaves no data entry, hence 422.
    assert response.status_code == 422 and "data" not in body, body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "url"}, error
    assert problem in error["message"]
    assert await row_counts(engine) == counts


async def test_background_loop_delivers_and_stops_cleanly(engine, settings, world, scene,
                                                          receiver):
    async with session_scope(engine) as s:
        from registry.actors import Actor
        from registry.background_checks import service as checks
        from registry.background_checks.candidate import parse_candidate
        from registry.keys.models import Role
        from registry.notifications import service as notifications

        agency_a = Actor(name="A", role=Role.AGENCY, agency_id=world.agency_a.id)
        await notifications.set_webhook(session=s, actor=agency_a, url=receiver.url)
        result = await checks.run_check(session=s, actor=agency_a, settings=settings,
                                        candidate=parse_candidate(
                                            first_name="Dana", last_name="Whitfield",
                                            date_of_birth="1985-04-12"), purpose="hiring")
        assert [str(m.officer_id) for m in result.matches] == [scene.officer]
    async with session_scope(engine) as s:
        await employment.report_separation(
            session=s, actor=STAFF, settings=settings, stint_id=uuid.UUID(scene.stint),
            separation_in=employment.SeparationIn(date(2024, 5, 1),
                                                  "retired_under_investigation"))
    fast = settings.model_copy(update={"webhook_poll_seconds": 0.05})
    application = create_app(fast)
    async with application.router.lifespan_context(application):
        for _ in range(100):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
    assert len(receiver.requests) == 1
    sent = json.loads(receiver.requests[0]["body"])["notification"]
    assert sent["kind"] == "separation_under_investigation"
    assert (await _delivery(engine))["status"] == "delivered"


async def test_deliver_command(database_url, monkeypatch, client, engine, world, scene,
                               receiver):
    await data(client, SET_HOOK, {"url": receiver.url}, token=world.tokens["agency_a"])
    await check(client, world, "agency_a")
    await data(client, REPORT, {"i": finding(scene.officer)}, token=world.tokens["agency_b"])
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        assert runner.invoke(cli_app, ["notifications", "--help"]).exit_code == 0
        helped = runner.invoke(cli_app, ["notifications", "deliver", "--help"])
        assert helped.exit_code == 0 and "Usage" in helped.output
        result = await asyncio.to_thread(runner.invoke, cli_app, ["notifications", "deliver"])
        assert result.exit_code == 0, result.output
        assert "1 delivered, 0 to retry, 0 failed" in result.output
        again = await asyncio.to_thread(runner.invoke, cli_app, ["notifications", "deliver"])
        assert "0 delivered, 0 to retry, 0 failed" in again.output
    finally:
        get_settings.cache_clear()
    assert len(receiver.requests) == 1
