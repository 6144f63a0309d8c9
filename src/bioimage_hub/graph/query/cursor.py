"""Opaque keyset cursors: the base64 of the last row's sort key, never an offset."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class InvalidCursor(ValueError):
    """The `after` argument is not a cursor this API issued."""


def encode_cursor(key: Any) -> str:
    raw = json.dumps(["k", key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, key = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if tag != "k":
            raise ValueError
        return key
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"after: {cursor!r} is not a valid cursor") from exc
