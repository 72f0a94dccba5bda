"""API keys: random tokens shown once, stored only as SHA-256 hashes, compared in constant time.

A token reads ``reg_<key id>_<secret>``: the id finds the row without scanning, the secret
(256 random bits) is what proves possession. SHA-256 suffices for such high-entropy secrets.
"""

import hashlib
import hmac
import secrets
import uuid

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.agencies import repository as agencies
from registry.agencies.models import Agency
from registry.database import Row, run_sql
from registry.errors import InvalidInput, NotFound, Unauthenticated
from registry.keys.models import ApiKey, Role

_PREFIX = "reg_"
_DUMMY_HASH = hashlib.sha256(b"no such key").digest()


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create(
    *, session: AsyncSession, actor: Actor, role: Role, name: str, agency_ori: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key; return it with its token, which is never shown again."""
    require_role(actor, Role.ADMIN, to="create API keys")
    agency_id = None
    if role is Role.AGENCY:
        if not agency_ori:
            raise InvalidInput("An agency key needs the agency's ORI (--agency).", field="agency")
        agency = await agencies.get_by_ori(session, agency_ori.strip().upper())
        if agency is None:
            raise NotFound(f"No agency has ORI '{agency_ori}'; create the agency first.")
        agency_id = agency.id
    elif agency_ori:
        raise InvalidInput(f"Only agency keys belong to an agency; a {role.value} key does not.")
    if not name.strip():
        raise InvalidInput("A key needs a name saying who holds it.", field="name")
    key_id = uuid.uuid4()
    token = f"{_PREFIX}{key_id.hex}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        id=key_id, name=name.strip(), role=role.value, agency_id=agency_id, token_hash=_hash(token)
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session, actor=actor, operation="key.create", entity_type="api_key", entity_id=key.id,
        after={"name": key.name, "role": key.role, "agency_id": agency_id},
    )
    return key, token


async def list_keys(*, session: AsyncSession) -> list[tuple[ApiKey, str | None]]:
    """Every key with its agency's ORI (for agency keys), oldest first."""
    stmt = (select(ApiKey, Agency.ori).join(Agency, col(Agency.id) == ApiKey.agency_id,
                                            isouter=True)
            .order_by(ApiKey.recorded_at))
    return [(k, ori) for k, ori in (await session.exec(stmt)).all()]


async def revoke(*, session: AsyncSession, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    require_role(actor, Role.ADMIN, to="revoke API keys")
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"No API key has id {key_id}; `registry keys list` shows them.")
    if key.revoked_at is None:
        key.revoked_at = await session.scalar(select(func.now()))
        session.add(key)
        await audit.record(
            session, actor=actor, operation="key.revoke", entity_type="api_key", entity_id=key.id
        )
    return key


async def authenticate(*, session: AsyncSession, token: str) -> Row:
    """The live key behind ``token`` (a row with ApiKey's columns: every request reads one,
    and the ORM's identity map and instance state cost more than the read itself);
    Unauthenticated if unknown, malformed or revoked."""
    key = None
    key_id_hex, _, secret = token.removeprefix(_PREFIX).partition("_")
    if token.startswith(_PREFIX) and secret and len(key_id_hex) == 32:
        try:
            key_id = uuid.UUID(hex=key_id_hex)
        except ValueError:
            key_id = None
        if key_id is not None:
            key = (await run_sql(session, "SELECT id, name, role, agency_id, token_hash, "
                                          "revoked_at FROM api_keys WHERE id = :id",
                                 {"id": key_id})).one_or_none()
    expected = key.token_hash if key is not None else _DUMMY_HASH
    if not hmac.compare_digest(expected, _hash(token)) or key is None:
        raise Unauthenticated("The API key is not valid. Check the Authorization header.")
    if key.revoked_at is not None:
        raise Unauthenticated("This API key was revoked; ask an administrator for a new one.")
    return key
