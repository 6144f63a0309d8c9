"""Small text helpers shared by the IDR parsers: decoding, key normalisation, value cleaning."""

from __future__ import annotations

import gzip
import re
import zlib
from functools import lru_cache
from pathlib import Path

from bioimage_hub.importers.idr.errors import IdrFormatError
from bioimage_hub.ontology.curie import InvalidIdentifier, normalize_curie
from bioimage_hub.plaintext import line_column, wide_encoding

# Tried in order; latin-1 maps every byte, so decoding never fails.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
# C0 controls other than tab, line feed, vertical tab, form feed and carriage return: no text
# file has them; a NUL is the mark of a binary file or of UTF-16 without a byte-order mark.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")

_WS = re.compile(r"\s+")
_OPEN = re.compile(r"\s*\[\s*")
_CLOSE = re.compile(r"\s*\]")


def _decompress(path: Path, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise IdrFormatError(path, None, f"not a readable gzip file: {exc}") from None


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    encoding = wide_encoding(data)
    if encoding is not None:
        try:
            return data.decode(encoding).lstrip("\ufeff"), encoding
        except UnicodeDecodeError as exc:
            raise IdrFormatError(path, None, f"invalid {encoding.upper()} text at byte {exc.start}"
                                             f" ({exc.reason}; truncated?)") from None
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.lstrip("\ufeff"), encoding
    raise AssertionError("unreachable: latin-1 decodes any byte string")


def read_text(path: Path) -> tuple[str, str]:
    """Text of a (possibly gzipped) file and the encoding that decoded it.

    UTF-8 (with or without BOM), Windows-1252 / Latin-1, and UTF-16 / UTF-32 with a byte-order
    mark are read; binary content (control characters such as NUL) is an IdrFormatError naming
    the line and column, so garbage never reaches the parsers as mojibake.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdrFormatError(path, None, f"cannot read the file: {exc.strerror or exc}") from None
    if path.suffix == ".gz":
        data = _decompress(path, data)
    text, encoding = _decode(path, data)
    bad = _CONTROL.search(text)
    if bad is not None:
        line, column = line_column(text, bad.start())
        hint = ("a binary file, or UTF-16 text without a byte-order mark" if bad.group() == "\x00"
                else "not a text file")
        raise IdrFormatError(path, line, f"control character U+{ord(bad.group()):04X} at column {column}:"
                                         f" {hint} (save it as UTF-8 text)")
    return text, encoding


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
