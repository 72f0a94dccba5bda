"""Relay connections paged by keyset cursors: a cursor is the sort key of the last row seen,
so the next page is one index range scan however deep the client pages."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import graphene

from registry.errors import InvalidInput

T = TypeVar("T")


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: Callable[[str], Any]) -> tuple | None:
    """The sort key inside ``cursor``, converted by ``types``; a forged cursor is refused."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError
        return tuple(t(v) for t, v in zip(types, values, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "The 'after' cursor is not one this API issued; use pageInfo.endCursor from the "
            "previous page, or omit 'after' to start from the beginning.", field="after"
        ) from None


def page_size(first: int | None, maximum: int, default: int = 25) -> int:
    if first is None:
        return min(default, maximum)
    if first < 1 or first > maximum:
        raise InvalidInput(f"'first' must be between 1 and {maximum}.", field="first")
    return first


def connection(
    conn_type: type[graphene.relay.Connection],
    rows: Sequence[T],
    limit: int,
    key: Callable[[T], tuple],
) -> graphene.relay.Connection:
    """Build a connection from ``limit + 1`` fetched rows (the extra one says a page follows)."""
    has_next = len(rows) > limit
    rows = rows[:limit]
    edges = [conn_type.Edge(node=r, cursor=encode_cursor(*key(r))) for r in rows]
    return conn_type(
        edges=edges,
        page_info=graphene.relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def uuid_arg(value: str, field: str) -> uuid.UUID:
    """An ID argument as a UUID, or a clear error naming the argument."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid {field}; ids are UUIDs.",
                           field=field) from None
