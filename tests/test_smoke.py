from tests.conftest import data


async def test_officer_round_trip(client, world):
    reg = await data(client, """
      mutation($in: OfficerInput!) { registerOfficer(input: $in) { id fullName dateOfBirth } }
    """, {"in": {"firstName": "Maria", "lastName": "García-López", "dateOfBirth": "1985-03"}},
        token=world.tokens["staff"])
    assert reg["registerOfficer"]["dateOfBirth"] == "1985-03"
    out = await data(client, "{ officers(first: 5, name: \"garcia\") { edges { node { fullName } } } }",
                     token=world.tokens["board"])
    assert out["officers"]["edges"][0]["node"]["fullName"] == "Maria García-López"
