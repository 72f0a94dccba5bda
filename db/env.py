"""Alembic environment: migrations run over asyncpg as the owner of the tables
(``REGISTRY_OWNER_DATABASE_URL``; see ``resolve_owner_url``)."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from registry.database import async_url, resolve_owner_url
from registry.settings import Settings

config = context.config


def run_migrations(connection) -> None:  # noqa: ANN001 - alembic passes a sync Connection
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    url = config.attributes.get("database_url") or resolve_owner_url(Settings())
    engine = create_async_engine(async_url(url))
    async with engine.connect() as conn:
        await conn.run_sync(run_migrations)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
asyncio.run(main())
