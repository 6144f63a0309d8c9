"""Cross-references of an IDR study, found in what the IDR reader parsed (pure functions).

`xrefs_from_parsed_study(parsed)` returns, in this order and deduplicated by canonical CURIE:

1. the study's own IDR entry (`idr:idr0004`) - always;
2. its publications: `pubmed:`, `pmc:` and `doi:` of every `Study PubMed ID` / `Study PMC ID` /
   `Study DOI`, and a preprint given as a DOI URL (`Study Publication Preprint`);
3. resources named in `Study External URL` (a BioStudies / EMPIAR / EMDB / IDR / DOI link);
4. accessions mentioned in the study / dataset / phenotype descriptions (EMPIAR-…, EMD-…, S-BIAD…,
   S-BSST…, DOIs, resolver URLs; a 4-character code only after "PDB").

Given the study file too (`study_file=`, a path or the parsed `StudyFile`), it also reads the
fields the reader does not keep: `Study Data DOI` / `Experiment Data DOI` / `Screen Data DOI`,
and every `Comment[...]` value of the study and its screens/experiments.

Write them inside the study's transaction with
`bioimage_hub.xrefs.graph.write_links(tx, "Study", accession, refs, source="idr")`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bioimage_hub.importers.idr.study_file import StudyFile, parse_study_file
from bioimage_hub.models.idr import ParsedStudy
from bioimage_hub.xrefs.identifiers import XRef, dedupe, find_xrefs_in_text, parse_xref, try_parse_xref

__all__ = ["xrefs_from_parsed_study", "xrefs_from_study_file"]

_DATA_DOI_KEYS = ("study data doi", "experiment data doi", "screen data doi")


def xrefs_from_parsed_study(parsed: ParsedStudy, study_file: StudyFile | Path | None = None) -> list[XRef]:
    """Every cross-reference of one study (see the module docstring). Never raises on odd values:
    anything that is not a valid identifier is skipped."""
    study = parsed.study
    refs: list[XRef] = [parse_xref(study.accession, "idr")]

    for pub in parsed.publications:
        if pub.pmid:
            refs.extend(_opt(pub.pmid, "pubmed"))
        if pub.pmcid:
            refs.extend(_opt(pub.pmcid, "pmc"))
        if pub.doi:
            refs.extend(_opt(pub.doi, "doi"))
        if pub.preprint_url:
            refs.extend(_opt(pub.preprint_url))

    if study.external_url:
        refs.extend(_opt(study.external_url))
        refs.extend(find_xrefs_in_text(study.external_url))

    texts: list[str | None] = [study.description]
    texts += [d.description for d in parsed.datasets]
    texts += [p.description for p in parsed.phenotypes]
    for text in texts:
        refs.extend(find_xrefs_in_text(text))

    if study_file is not None:
        refs.extend(xrefs_from_study_file(study_file))
    return dedupe(refs)


def xrefs_from_study_file(study_file: StudyFile | Path) -> list[XRef]:
    """Data DOIs and accessions in `Comment[...]` fields of a study file (all blocks)."""
    sf = study_file if isinstance(study_file, StudyFile) else parse_study_file(Path(study_file))
    refs: list[XRef] = []
    for block in [sf.study, *sf.components]:
        for key, row in block.rows.items():
            values = [v for v in row.values if v]
            if key in _DATA_DOI_KEYS:
                for value in values:
                    refs.extend(_opt(value, "doi"))
            elif key.startswith("comment[") or key.endswith("external url"):
                for value in values:
                    refs.extend(_opt(value) if value.startswith("http") else [])
                    refs.extend(find_xrefs_in_text(value))
    return dedupe(refs)


def _opt(value: str, hint: str | None = None) -> Iterable[XRef]:
    ref = try_parse_xref(value, hint)
    return [ref] if ref is not None else []
