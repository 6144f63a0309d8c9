"""Expected answers computed straight from the source files (csv module, pronto) — never
from the hub's own reader or graph."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import pronto

from tests.conftest import CMPO, IDR_DIR

_ACCESSION_COL = re.compile(r"^Phenotype \d+ Term Accession$")
GENE_COLUMNS = ("Gene Identifier", "Comment [Gene Identifier]")


def study_accession(folder: Path) -> str:
    return re.match(r"(idr\d{4})", folder.name).group(1)


def annotation_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*-annotation.csv"))


def rows(folder: Path) -> list[dict[str, str]]:
    out = []
    for path in annotation_files(folder):
        with path.open(newline="", encoding="utf-8-sig") as handle:
            out.extend(csv.DictReader(handle))
    return out


def study_folders() -> list[Path]:
    return sorted(p for p in IDR_DIR.iterdir() if p.is_dir() and list(p.glob("idr*-study.txt")))


def curie(accession: str) -> str:
    prefix, local = re.split(r"[_:]", accession.strip(), maxsplit=1)
    return f"{prefix}:{local}"


def row_accessions(row: dict[str, str]) -> set[str]:
    return {curie(v) for k, v in row.items() if k and _ACCESSION_COL.match(k) and v and v.strip()}


def row_genes(row: dict[str, str]) -> set[str]:
    return {row[c].strip() for c in GENE_COLUMNS if row.get(c) and row[c].strip()}


@lru_cache(maxsize=1)
def cmpo() -> pronto.Ontology:
    return pronto.Ontology(str(CMPO), import_depth=0)


def descendants_or_self(term: str) -> set[str]:
    onto = cmpo()
    if term not in onto:
        return {term}
    return {t.id for t in onto[term].subclasses()}  # includes the term itself


@lru_cache(maxsize=1)
def images_per_accession() -> dict[str, int]:
    """CURIE -> number of image rows annotated with it (over all studies)."""
    counts: dict[str, int] = defaultdict(int)
    for folder in study_folders():
        for row in rows(folder):
            for acc in row_accessions(row):
                counts[acc] += 1
    return dict(counts)


def images_with_any(terms: set[str]) -> int:
    total = 0
    for folder in study_folders():
        total += sum(1 for row in rows(folder) if row_accessions(row) & terms)
    return total
