"""Who may set and remove a notification webhook: each mutation of the notifications domain
with every role's key. Only agency keys, each for its own agency."""

import pytest

from registry.actors import Actor
from registry.database import session_scope
from registry.keys.models import Role
from registry.notifications import service as notifications
from tests.conftest import gql, row_counts
from tests.test_roles import ROLE_OF, WHO, Case, audit_count

AGENCIES = frozenset({"agency_a", "agency_b"})

CASES: dict[str, Case] = {
    "setNotificationWebhook": Case(
        """mutation($u: String!) { setNotificationWebhook(url: $u) { id url secret } }""",
        lambda w: {"u": "https://hooks.example.org/registry"}, "webhook.set", AGENCIES),
    "removeNotificationWebhook": Case(
        """mutation { removeNotificationWebhook }""",
        lambda w: {}, "webhook.remove", AGENCIES),
}

MATRIX = [(name, who) for name in CASES for who in WHO]


@pytest.fixture
async def hooks(engine, world) -> None:
    """Both agencies have a webhook, so that removing one is a write."""
    async with session_scope(engine) as s:
        for agency in (world.agency_a, world.agency_b):
            await notifications.set_webhook(
                session=s, actor=Actor(name="setup", role=Role.AGENCY, agency_id=agency.id),
                url=f"https://hooks.example.org/{agency.ori}")


@pytest.mark.parametrize(("mutation", "who"), MATRIX, ids=[f"{m}-{w}" for m, w in MATRIX])
async def test_mutation_by_role(client, engine, world, hooks, mutation, who):
    """As ``tests.test_roles.check_mutation_by_role``, for non-null results: allowed, it
    succeeds with exactly one audit event; refused, 403 FORBIDDEN naming the role, nothing
    changed (a non-null root that fails leaves no data entry)."""
    case = CASES[mutation]
    counts = await row_counts(engine)
    events = await audit_count(engine, case.operation)
    response = await gql(client, case.query, case.variables(world), token=world.tokens[who])
    body = response.json()
    if who in case.allowed:
        assert response.status_code == 200 and "errors" not in body, body
        result = body["data"][mutation]
        assert result is True or result["id"] == str(
            getattr(world, who).id) and result["secret"]
        assert await audit_count(engine, case.operation) == events + 1
        assert (await row_counts(engine))["audit_events"] == counts["audit_events"] + 1
    else:
        assert response.status_code == 403, body
        assert body.get("data") is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert error["extensions"]["role"] == ROLE_OF[who].lower()
        assert error["message"]
        assert await row_counts(engine) == counts
