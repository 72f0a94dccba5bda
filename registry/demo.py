"""``registry serve --demo``: a synthetic state to explore, and a key for each role."""

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor
from registry.agencies.models import Agency
from registry.database import (
    asyncpg_url,
    create_engine,
    resolve_database_url,
    resolve_owner_url,
    run_sql,
    session_scope,
)
from registry.keys import service as keys
from registry.keys.models import ApiKey, Role
from registry.referrals import service as referrals
from registry.settings import Settings

DEMO_PREFIX = "demo "


async def load_demo(settings: Settings, *, officers: int, console: Console
                    ) -> list[tuple[str, str, str]]:
    """Fill an empty database with a synthetic state and put the officers who meet a
    statutory ground in the referral queue, then issue fresh demo keys (revoking earlier demo
    keys, whose tokens were shown once and may be lost)."""
    # The bulk fill runs as the owner (it ends with ANALYZE, which only the owner may run);
    # the rest is what the service itself does, as the service role.
    conn = await asyncpg.connect(asyncpg_url(resolve_owner_url(settings)))
    try:
        empty = not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM officers)")
        if empty:
            from registry.synthetic import generate

            with Progress(TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                          console=console) as progress:
                tasks: dict[str, TaskID] = {}

                def report(phase: str, done: int, total: int) -> None:
                    if phase not in tasks:
                        tasks[phase] = progress.add_task(f"demo {phase}", total=total)
                    progress.update(tasks[phase], completed=done, total=total)

                counts = await generate(conn, officers=officers, agencies=max(50, officers // 80),
                                        state=settings.state, progress=report)
        else:
            console.print("The database already has officers; keeping them (no demo load).")
            counts = {}
    finally:
        await conn.close()

    engine = create_engine(resolve_database_url(settings), settings)
    actor = Actor.system("registry serve --demo")
    issued: list[tuple[str, str, str]] = []
    try:
        async with session_scope(engine) as session:
            if counts:
                await audit.record(session, actor=actor, operation="demo.load",
                                   entity_type="database", after=counts)
                # What reports would have done one by one: the referral queue POST staff see.
                await referrals.reevaluate(session=session, actor=actor, settings=settings)
                queued = (await run_sql(session, "SELECT count(*) FROM referrals "
                                                 "WHERE status = 'open'")).scalar_one()
                console.print(f"{counts['findings']:,} findings and {counts['convictions']:,} "
                              f"convictions loaded; {queued:,} referrals open in the queue.")
            old = await session.exec(select(ApiKey).where(
                col(ApiKey.name).startswith(DEMO_PREFIX), col(ApiKey.revoked_at).is_(None)))
            for key in old.all():
                await keys.revoke(session=session, actor=actor, key_id=key.id)
            biggest = await _busiest_agency(session)
            for role in Role:
                ori = biggest.ori if role is Role.AGENCY and biggest else None
                if role is Role.AGENCY and ori is None:
                    continue
                name = f"{DEMO_PREFIX}{role.value}" + (f" ({biggest.name})" if ori else "")
                _, token = await keys.create(session=session, actor=actor, role=role, name=name,
                                             agency_ori=ori)
                issued.append((role.value, name, token))
    finally:
        await engine.dispose()
    return issued


async def _busiest_agency(session: AsyncSession) -> Agency | None:
    """The agency with the most officers on its roster: the demo agency key's agency."""
    row = (await run_sql(session, (
        "SELECT a.id FROM agencies a JOIN stints s ON s.agency_id = a.id "
        "WHERE a.ori IS NOT NULL AND s.ended_on IS NULL "
        "GROUP BY a.id ORDER BY count(*) DESC LIMIT 1"))).first()
    return await session.get(Agency, row[0]) if row else None
