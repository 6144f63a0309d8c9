"""Plain-text facts shared by the input readers (IDR files, submission documents): which wide
encoding a byte-order mark announces, and the line/column of an offset for error messages."""

from __future__ import annotations

# UTF-32 first: its little-endian mark starts with UTF-16's.
WIDE_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def wide_encoding(data: bytes) -> str | None:
    """`utf-16` / `utf-32` when `data` starts with that encoding's byte-order mark."""
    return next((encoding for bom, encoding in WIDE_BOMS if data.startswith(bom)), None)


def line_column(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character (str) or byte (bytes) offset."""
    newline: str | bytes = "\n" if isinstance(text, str) else b"\n"
    line = text.count(newline, 0, offset) + 1  # type: ignore[arg-type]
    column = offset - (text.rfind(newline, 0, offset) + 1) + 1  # type: ignore[arg-type]
    return line, column


def position(text: str | bytes, offset: int) -> str:
    """`line L, column C` of an offset, for messages."""
    line, column = line_column(text, offset)
    return f"line {line}, column {column}"
