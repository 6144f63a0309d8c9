"""Parser of the ISA-Tab-like `idrNNNN-study.txt` file.

Every row is `Key<TAB>value<TAB>value...`; cells may be wrapped in double quotes, rows carry
trailing empty cells, lines starting with `#` are section titles or comments. Like IDR's own
`pyidr.study_parser`, the file is read line by line (no value spans lines).

Blocks are found from the keys, not from the free-text `#` section titles (which vary a lot
between studies): everything up to the first `Screen Number` / `Experiment Number` /
`Comment[IDR Screen Name]` / `Comment[IDR Experiment Name]` row belongs to the study block;
each of those rows opens a new screen/experiment block (unless it completes the block the
other one just opened: number and name rows come in either order), and every following row,
whatever its prefix (`Phenotype Name`, `Protocol Type`, ...), belongs to that block.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from bioimage_hub.importers.idr.errors import IdrFormatError
from bioimage_hub.importers.idr.text import norm_key, read_text

_NUMBER_KEYS = {"screen number": "screen", "experiment number": "experiment"}
_NAME_KEYS = {"comment[idr screen name]": "screen", "comment[idr experiment name]": "experiment"}


@dataclass
class Row:
    key: str
    values: list[str]
    line: int


@dataclass
class Block:
    """The rows of the study or of one screen/experiment, by normalised key."""

    kind: str  # "study" | "screen" | "experiment"
    line: int
    rows: dict[str, Row] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        key = norm_key(row.key)
        known = self.rows.get(key)
        # Keep the first occurrence unless it was blank and a later one is not.
        if known is None or (not any(known.values) and any(row.values)):
            self.rows[key] = row

    def values(self, key: str) -> list[str]:
        """All cells after the key (positional, '' kept), [] when the key is absent."""
        row = self.rows.get(norm_key(key))
        return list(row.values) if row else []

    def get(self, key: str) -> str | None:
        """First non-empty cell of KEY, or None."""
        return next((v for v in self.values(key) if v), None)

    def own(self, suffix: str) -> str | None:
        """`Screen <suffix>` / `Experiment <suffix>` for a screen/experiment block."""
        return self.get(f"{self.kind} {suffix}")

    def own_values(self, suffix: str) -> list[str]:
        return self.values(f"{self.kind} {suffix}")

    def line_of(self, key: str) -> int | None:
        row = self.rows.get(norm_key(key))
        return row.line if row else None

    @property
    def idr_name(self) -> str | None:
        return self.get(f"comment[idr {self.kind} name]")


@dataclass
class StudyFile:
    path: Path
    encoding: str
    study: Block
    components: list[Block]


class UnterminatedQuote(ValueError):
    """A line ends inside a quoted cell (no value spans lines in a study file: it was cut)."""


def _cells(line: str) -> list[str]:
    """Cells of one tab-separated line, quotes removed, stripped, trailing empties dropped."""
    if '"' in line:
        try:
            for _ in csv.reader([line], delimiter="\t", quotechar='"', strict=True):
                pass
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise UnterminatedQuote(line) from None
    cells = next(csv.reader([line], delimiter="\t", quotechar='"'), [])
    cells = [c.strip() for c in cells]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def parse_study_file(path: Path) -> StudyFile:
    text, encoding = read_text(path)
    lines = text.splitlines()
    if not any("\t" in line for line in lines):
        raise IdrFormatError(
            path, 1, "no tab-separated 'Key<TAB>value' rows found (is this an IDR study file?)"
        )
    study = Block("study", 1)
    components: list[Block] = []
    current = study
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().lstrip('"').startswith("#"):
            continue
        try:
            cells = _cells(line)
        except UnterminatedQuote:
            key = line.split("\t", 1)[0].strip().strip('"').strip() or None
            raise IdrFormatError(path, number, "a quoted value is not closed on its line (file truncated?)",
                                 column=key) from None
        except csv.Error as exc:  # pragma: no cover - csv is lenient on single lines
            raise IdrFormatError(path, number, f"unreadable row: {exc}") from exc
        if not cells or not cells[0]:
            continue  # a value without a key: nothing to attach it to
        row = Row(cells[0], cells[1:], number)
        key = norm_key(row.key)
        kind = None
        if key in _NUMBER_KEYS:
            kind = _NUMBER_KEYS[key]
            # `Comment[IDR ... Name]` may come first and have opened the block already
            if current.kind == kind and key not in current.rows and current.idr_name is not None:
                kind = None
        elif key in _NAME_KEYS:
            kind = _NAME_KEYS[key]
            if current.kind == kind and current.idr_name is None:
                kind = None
        if kind is not None:
            current = Block(kind, number)
            components.append(current)
        current.add(row)
    return StudyFile(path=path, encoding=encoding, study=study, components=components)


_ACCESSION = re.compile(r"idr\d{4,}", re.IGNORECASE)


def find_accession(text: str | None) -> str | None:
    if not text:
        return None
    match = _ACCESSION.search(text)
    return match.group(0).lower() if match else None
