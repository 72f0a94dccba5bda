"""Who may submit to the NDI: the submitNdiExport mutation with every role's key (POST staff
only). The export needs no records to be allowed: an empty submission is still recorded."""

import pytest

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
