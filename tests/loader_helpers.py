"""Shared by the loader tests: running a load, reading its rejects, counting rows."""

import csv
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from loaders.base import Options, Report
from registry.settings import Settings


def _shared_data() -> Path:
    """The project's real data: REGISTRY_SHARED_DATA, else ../shared/data beside this
    checkout, else the workplace's copy (a clone elsewhere, e.g. CI's, still finds it)."""
    candidates = [Path(os.environ["REGISTRY_SHARED_DATA"])] if "REGISTRY_SHARED_DATA" in \
        os.environ else []
    candidates += [Path(__file__).resolve().parent.parent.parent / "shared" / "data",
                   Path("/work/shared/data")]
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED = _shared_data()
FL = SHARED / "fl_post_sample"
VA = SHARED / "va_decertification"


def options(tmp_path: Path, name: str = "rejects.csv", **kw: Any) -> Options:
    return Options(chunk_size=kw.pop("chunk_size", 3), rejects_path=tmp_path / name,
                   show_progress=False, **kw)


def rejects_of(report: Report) -> list[dict[str, str]]:
    assert report.rejects_file
    with open(report.rejects_file, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


def settings_for(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"database_url": url})
