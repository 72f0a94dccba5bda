"""Persisted operations: the named operations shipped in ``graphql/operations/`` (the public
schema's in its ``public/`` folder), known by the SHA-256 of each file's exact text.

A client may send an operation's hash instead of its text (Apollo's
``extensions.persistedQuery.sha256Hash``); in persisted mode ``/graphql`` runs nothing else,
so production serves only documents that were reviewed, priced and tested with the code.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from registry.settings import Settings

OPERATIONS_DIR = Path(__file__).resolve().parents[2] / "graphql" / "operations"


@dataclass(frozen=True)
class Operation:
    name: str
    path: Path
    text: str
    sha256: str


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def operations_dir(settings: Settings) -> Path:
    return settings.operations_dir or OPERATIONS_DIR


def load_operations(directory: Path) -> dict[str, Operation]:
    """The ``*.graphql`` files directly in ``directory``, by hash (none if it is missing)."""
    found = {}
    for path in sorted(directory.glob("*.graphql")):
        text = path.read_bytes().decode()
        found[sha256(text)] = Operation(path.stem, path, text, sha256(text))
    return found


def persisted_only(settings: Settings) -> bool:
    """Whether /graphql refuses documents that are not shipped operations."""
    if settings.persisted_operations is None:
        return settings.environment == "production"
    return settings.persisted_operations
