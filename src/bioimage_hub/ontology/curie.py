"""Canonical identifiers for ontology terms.

Every term is stored under one canonical CURIE (`CMPO:0000426`) and its IRI. On input we accept
the CURIE, the OBO short form (`CMPO_0000426`), an IRI under any known IRI prefix, and prefixes in
any letter case (`Fbbi_00000246`, `ncbitaxon:9606`). The prefix map lives in
`ontologies/manifest.yaml`; conversion itself is done by the `curies` library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import curies
import yaml

from bioimage_hub.config import PROJECT_ROOT

MANIFEST = PROJECT_ROOT / "ontologies" / "manifest.yaml"
OBO_PURL = "http://purl.obolibrary.org/obo/"

_SHORT = re.compile(r"^(?P<prefix>[A-Za-z][A-Za-z0-9.]*)[_:](?P<local>[A-Za-z0-9][\w.\-]*)$")


class InvalidIdentifier(ValueError):
    """The string is not a CURIE, short form or IRI of any known or OBO-style prefix."""


@dataclass(frozen=True)
class TermId:
    curie: str
    iri: str

    @property
    def prefix(self) -> str:
        return self.curie.split(":", 1)[0]

    @property
    def local(self) -> str:
        return self.curie.split(":", 1)[1]

    @property
    def short_form(self) -> str:
        return f"{self.prefix}_{self.local}"


class CurieNormalizer:
    """Turn any accepted spelling of a term identifier into a `TermId`."""

    def __init__(self, prefixes: dict[str, dict]) -> None:
        records = []
        self._by_lower: dict[str, str] = {}
        for prefix, spec in prefixes.items():
            iris = list(spec.get("iri") or [f"{OBO_PURL}{prefix}_"])
            records.append(
                curies.Record(prefix=prefix, uri_prefix=iris[0], uri_prefix_synonyms=iris[1:])
            )
            self._by_lower[prefix.lower()] = prefix
            for syn in spec.get("synonyms") or []:
                self._by_lower[str(syn).lower()] = prefix
        self._converter = curies.Converter(records)
        # canonical prefix -> its IRI prefix (None: not listed, the OBO PURL is used); the
        # converter's `expand` rebuilds its prefix map on every call, too slow for 10^5 terms.
        self._uri_prefixes: dict[str, str | None] = dict(self._converter.prefix_map)

    def canonical_prefix(self, prefix: str) -> str:
        """Known prefixes get their canonical spelling; unknown ones are kept as written."""
        return self._by_lower.get(prefix.lower(), prefix)

    def normalize(self, value: str) -> TermId:
        text = (value or "").strip()
        if not text:
            raise InvalidIdentifier("empty term identifier")
        if text.startswith(("http://", "https://")):
            compressed = self._converter.compress(text)
            if compressed is not None:
                prefix, local = compressed.split(":", 1)
                return self._make(prefix, local)
            # An OBO PURL of a prefix we do not list: http://purl.obolibrary.org/obo/XYZ_123
            if text.startswith(OBO_PURL):
                match = _SHORT.match(text[len(OBO_PURL) :])
                if match:
                    return self._make(match["prefix"], match["local"])
            raise InvalidIdentifier(f"unknown IRI {text!r}: no known prefix expands to it")
        match = _SHORT.match(text)
        if not match:
            raise InvalidIdentifier(
                f"{text!r} is not a CURIE (CMPO:0000426), short form (CMPO_0000426) or IRI"
            )
        return self._make(match["prefix"], match["local"])

    def _make(self, prefix: str, local: str) -> TermId:
        canonical = self.canonical_prefix(prefix)
        curie = f"{canonical}:{local}"
        uri_prefix = self._uri_prefixes.get(canonical)
        iri = f"{uri_prefix}{local}" if uri_prefix else f"{OBO_PURL}{canonical}_{local}"
        return TermId(curie=curie, iri=iri)


@lru_cache(maxsize=1)
def default_normalizer() -> CurieNormalizer:
    manifest = yaml.safe_load(Path(MANIFEST).read_text(encoding="utf-8"))
    return CurieNormalizer(manifest["prefixes"])


def normalize_curie(value: str) -> str:
    """Canonical CURIE for any accepted spelling; raises InvalidIdentifier."""
    return default_normalizer().normalize(value).curie


def term_id(value: str) -> TermId:
    return default_normalizer().normalize(value)
