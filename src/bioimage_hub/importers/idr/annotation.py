"""Reader of `*-annotation.csv` files and the mapping of their columns to roles.

Column roles come from the bulkmap config first (its mapr groups: `organism`, `gene`,
`sirna`, `compound`, `antibody` and their `/supplementary` groups) and, for whatever it does
not name, from IDR's standard column names, matched after `norm_key` (case and spacing
around brackets ignored, so `Comment[Image Dimensions]` matches `Comment [Image Dimensions]`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bioimage_hub.importers.idr.bulkmap import Bulkmap
from bioimage_hub.importers.idr.errors import IdrFormatError
from bioimage_hub.importers.idr.text import norm_key, read_text

# Supplementary reagent columns that describe how a reagent was used in this well/image
# (they vary per row) stay image attributes; the others become reagent properties.
PER_USE_WORDS = ("dose", "concentration", "dilution", "volume", "timepoint", "time point")

_PHENOTYPE = re.compile(r"^phenotype(?: (\d+))?$")
_ACCESSION = re.compile(r"\baccession$")
_TERM_SOURCE = re.compile(r"^term source\b")

REAGENT_GROUPS = {"sirna": "SiRNA", "compound": "Compound", "antibody": "Antibody"}
REAGENT_HEADERS = {
    "SiRNA": ("sirna identifier",),
    "Compound": ("compound name",),
    "Antibody": ("antibody identifier", "experimental condition[antibody]"),
}
REAGENT_PROPERTY_HEADERS = {
    "SiRNA": ("sense sequence", "antisense sequence"),
    "Compound": ("compound smiles",),
    "Antibody": (),
}


@dataclass
class PhenotypeColumns:
    name: int
    term_name: int | None
    accession: int | None


@dataclass
class ReagentColumns:
    kind: str
    id: int
    properties: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class ColumnMap:
    header: list[str]
    plate: int | None = None
    well: int | None = None
    well_number: int | None = None
    dataset_name: int | None = None
    image_name: int | None = None
    organism: int | None = None
    organism_accession: int | None = None
    gene_id: int | None = None
    gene_symbol: int | None = None
    gene_synonyms: int | None = None
    control_type: int | None = None
    comments: int | None = None
    reagents: list[ReagentColumns] = field(default_factory=list)
    phenotypes: list[PhenotypeColumns] = field(default_factory=list)
    attributes: list[tuple[str, int]] = field(default_factory=list)
    splits: dict[int, str] = field(default_factory=dict)

    @property
    def is_wells(self) -> bool:
        return self.plate is not None and (self.well is not None or self.well_number is not None)

    @property
    def is_images(self) -> bool:
        return self.dataset_name is not None


class _Lines:
    """The text's lines as the csv reader pulls them, keeping those of the record being read
    (so the last record's raw text can be checked for truncation)."""

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.record.append(line)
        return line

    def take(self) -> str:
        raw, self.record = "".join(self.record), []
        return raw


def _ends_in_quotes(raw: str) -> bool:
    """Whether RAW (one record) ends inside a quoted value: the lenient reader takes the rest of
    the file as that value, the strict one knows it is cut short."""
    try:
        for _ in csv.reader(io.StringIO(raw, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _pad(cells: list[str], width: int) -> list[str]:
    return cells + [""] * (width - len(cells)) if len(cells) < width else cells


def iter_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header (stripped) and an iterator of (line number, cells padded to the header).

    Raises IdrFormatError (lazily, for rows) for unreadable CSV, rows longer than the header and
    a file cut short in its last row.
    """
    text, _ = read_text(path)
    lines = _Lines(text)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
    except csv.Error as exc:
        raise IdrFormatError(path, reader.line_num, f"unreadable CSV header: {exc}") from exc
    if header is None:
        raise IdrFormatError(path, 1, "empty annotation file (no header row)")
    header_raw = lines.take()
    if _ends_in_quotes(header_raw):
        raise IdrFormatError(path, reader.line_num, "the header ends inside a quoted value (truncated?)",
                             column="header")
    header = [h.replace("\ufeff", "").strip() for h in header]
    width = len(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        # A row is held back until the next one is read: only the file's last row can be cut
        # short, and a short last row is only suspicious when every earlier row was complete.
        held: tuple[int, list[str], str] | None = None
        all_full = True
        last_raw = ""
        blank_after = False  # blank rows follow the held one
        try:
            for cells in reader:
                last_raw = lines.take()
                if not any(c.strip() for c in cells):
                    blank_after = True
                    continue
                if len(cells) > width:
                    extra = [c for c in cells[width:] if c.strip()]
                    if extra:
                        raise IdrFormatError(
                            path,
                            reader.line_num,
                            f"row has {len(cells)} cells but the header has {width} columns"
                            f" (extra values {extra[:3]!r})",
                        )
                    cells = cells[:width]
                if held is not None:
                    all_full = all_full and len(held[1]) == width
                    yield held[0], _pad(held[1], width)
                held, blank_after = (reader.line_num, cells, last_raw), False
        except csv.Error as exc:
            raise IdrFormatError(path, reader.line_num, f"unreadable CSV row: {exc}") from exc
        if _ends_in_quotes(last_raw):
            raise IdrFormatError(path, reader.line_num, "the file ends inside a quoted value (truncated?)")
        if held is None:
            return
        line, cells, raw = held
        if not blank_after and all_full and len(cells) < width and not raw.endswith(("\n", "\r")):
            raise IdrFormatError(path, line, f"the file ends mid-row: {len(cells)} of {width} cells (truncated?)")
        yield line, _pad(cells, width)

    return header, rows()


def map_columns(header: list[str], bulkmap: Bulkmap) -> ColumnMap:
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(norm_key(name), i)

    def find(*keys: str) -> int | None:
        return next((index[k] for k in keys if k in index), None)

    def from_group(group: str, *labels: str) -> int | None:
        """Index of the first bulkmap column of GROUP whose label is one of LABELS (any if none)."""
        for column in bulkmap.in_group(group):
            if labels and norm_key(column.label) not in labels and column.key not in labels:
                continue
            if column.key in index:
                return index[column.key]
        return None

    def first(*candidates: int | None) -> int | None:
        return next((c for c in candidates if c is not None), None)

    cm = ColumnMap(header=header)
    cm.plate = find("plate")
    cm.well = find("well")
    cm.well_number = find("well number")
    cm.dataset_name = find("dataset name")
    cm.image_name = find("image name")
    cm.control_type = find("control type")
    cm.comments = find("comments")

    cm.organism = first(from_group("organism"), find("characteristics[organism]"))
    if cm.organism is not None:
        for j in (cm.organism + 1, cm.organism + 2):
            if j < len(header) and _ACCESSION.search(norm_key(header[j])):
                cm.organism_accession = j
                break

    cm.gene_id = first(
        from_group("gene", "gene identifier"), find("gene identifier", "comment[gene identifier]")
    )
    cm.gene_symbol = first(
        from_group("gene", "gene symbol"), find("gene symbol", "comment[gene symbol]")
    )
    cm.gene_synonyms = first(
        from_group("gene/supplementary", "gene symbol synonyms"),
        find("gene symbol synonyms", "comment[gene symbol synonyms]"),
    )

    used: set[int] = set()
    for group, kind in REAGENT_GROUPS.items():
        id_col = first(from_group(group), find(*REAGENT_HEADERS[kind]))
        if id_col is None or id_col in used:
            continue
        used.add(id_col)
        reagent = ReagentColumns(kind=kind, id=id_col)
        seen: set[int] = {id_col}
        for column in bulkmap.in_group(f"{group}/supplementary"):
            j = index.get(column.key)
            if j is None or j in seen or any(w in column.key for w in PER_USE_WORDS):
                continue
            reagent.properties.append((column.label, j))
            seen.add(j)
        for key in REAGENT_PROPERTY_HEADERS[kind]:
            j = index.get(key)
            if j is not None and j not in seen:
                reagent.properties.append((header[j], j))
                seen.add(j)
        cm.reagents.append(reagent)

    for i, name in enumerate(header):
        match = _PHENOTYPE.match(norm_key(name))
        if not match:
            continue
        prefix = f"phenotype {match[1]}" if match[1] else "phenotype"
        cm.phenotypes.append(
            PhenotypeColumns(
                name=i,
                term_name=index.get(f"{prefix} term name"),
                accession=index.get(f"{prefix} term accession"),
            )
        )

    consumed: set[int] = {
        i
        for i in (
            cm.plate,
            cm.well,
            cm.well_number,
            cm.dataset_name,
            cm.image_name,
            cm.organism,
            cm.organism_accession,
            cm.gene_id,
            cm.gene_symbol,
            cm.gene_synonyms,
            cm.control_type,
            cm.comments,
        )
        if i is not None
    }
    if cm.organism_accession is not None:
        consumed.update(range(cm.organism + 1, cm.organism_accession))  # its Term Source REF
    for reagent in cm.reagents:
        consumed.add(reagent.id)
        consumed.update(j for _, j in reagent.properties)
    for ph in cm.phenotypes:
        consumed.update(j for j in (ph.name, ph.term_name, ph.accession) if j is not None)

    labels: set[str] = set()
    if bulkmap.present:
        for column in bulkmap.data_columns():
            j = index.get(column.key)
            if j is None or j in consumed or column.label in labels:
                continue
            cm.attributes.append((column.label, j))
            labels.add(column.label)
    else:
        for j, name in enumerate(header):
            if j in consumed or not name or name in labels or _TERM_SOURCE.match(norm_key(name)):
                continue
            cm.attributes.append((name, j))
            labels.add(name)

    for column in bulkmap.columns:
        if column.split and column.key in index:
            cm.splits.setdefault(index[column.key], column.split)
    return cm
