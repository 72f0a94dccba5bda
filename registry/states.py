"""Two-letter codes of the jurisdictions that run POST boards (states, DC, territories)."""

STATE_CODES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI".split()
)


def check_state(code: str) -> str:
    from registry.errors import InvalidInput

    normalized = (code or "").strip().upper()
    if normalized not in STATE_CODES:
        raise InvalidInput(
            f"'{code}' is not a US state code; use the two-letter postal code, e.g. 'VA'.",
            field="state",
        )
    return normalized
