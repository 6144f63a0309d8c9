"""Small text helpers shared by the IDR parsers: decoding, key normalisation, value cleaning."""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

from bioimage_hub.ontology.curie import InvalidIdentifier, normalize_curie

# Tried in order; latin-1 maps every byte, so decoding never fails.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")

_WS = re.compile(r"\s+")
_OPEN = re.compile(r"\s*\[\s*")
_CLOSE = re.compile(r"\s*\]")


def read_text(path: Path) -> tuple[str, str]:
    """Text of a (possibly gzipped) file and the encoding that decoded it."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.lstrip("\ufeff"), encoding
    raise AssertionError("unreachable: latin-1 decodes any byte string")


def norm_key(key: str) -> str:
    """Comparable form of a field / column name.

    `Comment[IDR Study Accession]`, ` comment [IDR  study accession] ` and
    `COMMENT[IDR STUDY ACCESSION]` all become `comment[idr study accession]`.
    """
    text = _WS.sub(" ", key.replace("\ufeff", "").strip().strip('"').strip())
    text = _CLOSE.sub("]", _OPEN.sub("[", text))
    return text.casefold()


def clean(value: str | None) -> str | None:
    """Strip and collapse nothing but the ends; empty -> None."""
    if value is None:
        return None
    text = value.strip()
    return text or None


def split_values(value: str | None, sep: str | None) -> list[str]:
    """Non-empty stripped parts of VALUE split on SEP (no split when SEP is empty)."""
    text = clean(value)
    if text is None:
        return []
    if not sep:
        return [text]
    return [part.strip() for part in text.split(sep) if part.strip()]


@lru_cache(maxsize=4096)
def canonical_curie(value: str) -> str | None:
    """Canonical CURIE of a term accession, None when it is not one (callers warn)."""
    try:
        return normalize_curie(value)
    except InvalidIdentifier:
        return None
