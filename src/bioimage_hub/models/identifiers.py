"""Normalisation of publication identifiers (DOI, PubMed, PMC) as the hub stores them."""

from __future__ import annotations

import re

_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


class InvalidDOI(ValueError):
    """Not a DOI in any accepted spelling."""


def normalize_doi(value: str) -> str:
    """Bare DOI (`10.1083/jcb.201108095`) from a DOI URL, `doi:` CURIE or bare DOI.

    DOIs are case-insensitive; the prefix part is kept, the suffix lower-cased for matching.
    """
    text = _DOI_PREFIX.sub("", (value or "").strip())
    if not _DOI.match(text):
        raise InvalidDOI(f"{value!r} is not a DOI (expected 10.NNNN/suffix or a doi.org URL)")
    return text.lower()
