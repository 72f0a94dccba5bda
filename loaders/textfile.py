"""Reading source CSV files as they come: any line ending, a byte-order mark, Windows-1252
bytes in a UTF-8 file, quoted fields across lines, a truncated last line.

Encoding: every line is decoded as UTF-8; a line that is not valid UTF-8 is decoded as
Windows-1252 (the superset of Latin-1 that US office software writes), and the count of such
lines is reported. A wrong guess would show as odd letters in a name, never as a lost row;
a file mostly in another encoding is still read whole.

A row whose field count differs from the header's is a reject with the reason (for the last
line: "truncated"); so is a row that ends inside a quoted field, or that contains a NUL byte.
"""

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 1 << 20


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    lines: int
    size: int


def file_facts(path: Path) -> FileFacts:
    """SHA-256, line count and size in one pass over the bytes."""
    digest = hashlib.sha256()
    lines = size = 0
    last = b"\n"
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
            lines += block.count(b"\n")
            size += len(block)
            last = block[-1:]
    if size and last != b"\n":
        lines += 1
    return FileFacts(digest.hexdigest(), lines, size)


@dataclass
class Decoding:
    """How the lines were decoded (for the report)."""

    fallback_lines: list[int] = field(default_factory=list)

    @property
    def fallback_count(self) -> int:
        return len(self.fallback_lines)


def _decode(raw: bytes, line_no: int, decoding: Decoding) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        decoding.fallback_lines.append(line_no)
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
            return raw.decode("latin-1")


@dataclass(frozen=True)
class Row:
    """One data row: the line it starts on, its fields (None when it could not be read) and
    the problem with it, if any."""

    line: int
    fields: list[str] | None
    problem: str | None = None
    raw: str = ""


class CsvFile:
    """A CSV file read row by row after its header.

    ``header`` holds the column names as written (trimmed); ``columns`` the same in lower
    case. Iterating yields ``Row`` objects; rows with a problem carry ``problem`` and are
    never passed on as data."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.decoding = Decoding()
        self._file = path.open("rb")
        self._line = 0
        self._eof_without_newline = False
        first = self._file.readline()
        self._line = 1
        text = _decode(first, 1, self.decoding).lstrip("\ufeff")
        self.header = [h.strip() for h in next(csv.reader([text]), [])]
        self.columns = [h.lower() for h in self.header]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "CsvFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _lines(self) -> Iterator[str]:
        for raw in self._file:
            self._line += 1
            if not raw.endswith(b"\n"):
                self._eof_without_newline = True
            yield _decode(raw, self._line, self.decoding)

    def __iter__(self) -> Iterator[Row]:
        width = len(self.header)
        lines = self._lines()
        reader = csv.reader(lines, strict=True)
        while True:
            start = self._line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                problem = ("the row ends inside a quoted field (the file is truncated?)"
                           if "end of data" in str(e) or "EOF" in str(e)
                           else f"unreadable CSV: {e}")
                yield Row(start, None, problem)
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if len(fields) != width:
                last = self._eof_without_newline
                if last and len(fields) < width:
                    problem = (f"truncated: the file's last line has {len(fields)} of "
                               f"{width} columns and no line end")
                else:
                    problem = f"has {len(fields)} columns; the header has {width}"
                yield Row(start, fields, problem)
                continue
            yield Row(start, fields)


def missing_columns(columns: list[str], required: tuple[str, ...]) -> list[str]:
    return [c for c in required if c not in columns]
