"""The hub's submission format: one study as a YAML or JSON document, following REMBI.

REMBI (Sarkans et al., Nature Methods 2021) sections, top to bottom:

* ``study`` — title, description, keywords, licence (fixed list), release date, authors (name,
  ORCID with a valid checksum, affiliation), funding, related publications (DOI / PubMed ID),
  cross-references (CURIE strings such as ``EMPIAR:10028``);
* ``biosamples`` — organism (NCBITaxon CURIE), biological entity, intrinsic / extrinsic /
  experimental variables;
* ``specimens`` — how the sample was prepared (preparation protocol, growth protocol);
* ``acquisitions`` — image acquisition: instrument, FBbi imaging method, parameters;
* ``annotation_methods`` — MIFA-style annotation method: type, source, protocol;
* ``datasets`` — study components: which biosample / specimen / acquisition / annotation method,
  and the image files (path, format, size, checksum, optional OME-Zarr URL) with their per-image
  annotations (genes with organism, reagents, phenotype terms).

Validation is layered (see ``bioimage_hub.submission.validate``): these models check types,
sizes and identifier syntax (ORCID checksum, DOI, CURIEs); given a validation *context* they also
check cross-section references and that ontology terms exist in the hub. Every string and list has
an upper bound, so a document cannot make the hub store unbounded values.

``python -m bioimage_hub.models.submission`` prints the JSON Schema (kept in
``docs/submission.schema.json``; a test checks that file is current).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bioimage_hub.models.identifiers import InvalidDOI, normalize_doi
from bioimage_hub.ontology.curie import InvalidIdentifier, term_id

SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- bounded strings

MAX_DATASETS = 1_000
MAX_IMAGES_PER_DATASET = 200_000
MAX_SECTION_ITEMS = 1_000
MAX_PER_IMAGE = 200


def _text(max_length: int) -> Any:
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)]


Name = _text(200)
Title = _text(500)
ShortText = _text(2_000)
LongText = _text(20_000)
Keyword = _text(100)
LocalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    Field(description="an identifier local to this document: letters, digits, '.', '_', '-' (max 64)"),
]
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[^\s/:]{1,100}$"),
    Field(description="no whitespace, '/' or ':' (max 100)"),
]
Attributes = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], Annotated[str, StringConstraints(max_length=2_000)]],
    Field(max_length=50),
]

LICENCES: dict[str, str] = {
    "CC0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC BY 4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC BY-SA 4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC BY-NC 4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC BY-NC-SA 4.0": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "CC BY-ND 4.0": "https://creativecommons.org/licenses/by-nd/4.0/",
}
Licence = Literal["CC0", "CC BY 4.0", "CC BY-SA 4.0", "CC BY-NC 4.0", "CC BY-NC-SA 4.0", "CC BY-ND 4.0"]

IMAGE_FORMATS = (
    "OME-TIFF", "OME-Zarr", "TIFF", "CZI", "LIF", "ND2", "LSM", "DV", "OIB", "IMS", "MRC", "HDF5",
    "PNG", "JPEG", "other",
)
ImageFormat = Literal[
    "OME-TIFF", "OME-Zarr", "TIFF", "CZI", "LIF", "ND2", "LSM", "DV", "OIB", "IMS", "MRC", "HDF5",
    "PNG", "JPEG", "other",
]
ReagentKind = Literal["SiRNA", "Compound", "Antibody"]
# MIFA (Zulueta-Coarasa et al. 2024) annotation types and sources.
AnnotationType = Literal[
    "class labels", "bounding boxes", "counts", "derived annotations", "geometrical annotations",
    "graphs", "point annotations", "segmentation masks", "tracks", "weak annotations", "other",
]
AnnotationSource = Literal["manual", "semi-automatic", "automatic", "crowd-sourced", "other"]


def _case_insensitive(choices: tuple[str, ...] | list[str]) -> Any:
    lookup = {c.lower(): c for c in choices}

    def fix(value: Any) -> Any:
        return lookup.get(value.strip().lower(), value) if isinstance(value, str) else value

    return BeforeValidator(fix)


# --------------------------------------------------------------------------- identifiers

_ORCID = re.compile(r"^(?:https?://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$", re.IGNORECASE)


def orcid_checksum_ok(orcid: str) -> bool:
    """ISO 7064 MOD 11-2 check digit, as ORCID defines it."""
    digits = orcid.replace("-", "")
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    result = (12 - total % 11) % 11
    return digits[-1].upper() == ("X" if result == 10 else str(result))


def _orcid(value: str) -> str:
    match = _ORCID.match(value.strip())
    if not match:
        raise PydanticCustomError(
            "orcid", "{value} is not an ORCID iD (0000-0002-1825-0097 or https://orcid.org/...)",
            {"value": repr(value)},
        )
    bare = match.group(1).upper()
    if not orcid_checksum_ok(bare):
        raise PydanticCustomError("orcid_checksum", "ORCID iD {value} has a wrong check digit", {"value": bare})
    return bare


def _doi(value: str) -> str:
    try:
        return normalize_doi(value)
    except InvalidDOI as exc:
        raise PydanticCustomError("doi", "{message}", {"message": str(exc)}) from None


def _curie(value: str) -> Any:
    try:
        return term_id(value)
    except InvalidIdentifier as exc:
        raise PydanticCustomError("curie", "{message}", {"message": str(exc)}) from None


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context or {}


def check_term(value: str, info: ValidationInfo, *, prefix: str | None = None, what: str = "term") -> str:
    """Canonical CURIE of `value`; with `terms` in the context it must be a loaded, live term."""
    tid = _curie(value)
    if prefix and tid.prefix != prefix:
        raise PydanticCustomError(
            "term_prefix", "{what} must be a {prefix} term, not {curie}", {"what": what, "prefix": prefix, "curie": tid.curie}
        )
    terms = _context(info).get("terms")
    if terms is not None:
        found = terms.get(tid.curie)
        if found is None or found.get("stub"):
            raise PydanticCustomError("unknown_term", "unknown term {curie}", {"curie": tid.curie})
        if found.get("obsolete"):
            better = found.get("replacedBy") or []
            hint = f" (replaced by {', '.join(better)})" if better else ""
            raise PydanticCustomError(
                "obsolete_term", "obsolete term {curie}{hint}", {"curie": tid.curie, "hint": hint}
            )
    return tid.curie


def _reference(kind: str, value: str, info: ValidationInfo) -> str:
    declared = _context(info).get("declared", {}).get(kind)
    if declared is not None and value not in declared:
        raise PydanticCustomError(
            "unknown_reference", "no {kind} with id {value} in this document", {"kind": kind, "value": repr(value)}
        )
    return value


# --------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


class Taxon(_Model):
    """An organism: an NCBITaxon CURIE (a bare string is accepted as the id)."""

    id: str = Field(description="NCBITaxon CURIE, e.g. NCBITaxon:9606", examples=["NCBITaxon:9606"])
    name: Name | None = Field(default=None, description="scientific name, e.g. Homo sapiens")

    @field_validator("id")
    @classmethod
    def _taxon(cls, value: str, info: ValidationInfo) -> str:
        tid = _curie(value)
        if tid.prefix != "NCBITaxon" or not tid.local.isdigit():
            raise PydanticCustomError("taxon", "{value} is not an NCBITaxon CURIE (NCBITaxon:9606)", {"value": repr(value)})
        # Only when an NCBITaxon ontology is loaded can its terms be checked.
        if "NCBITaxon" in (_context(info).get("loaded_prefixes") or ()):
            return check_term(tid.curie, info, prefix="NCBITaxon", what="organism")
        return tid.curie


def _taxon_shorthand(value: Any) -> Any:
    return {"id": value} if isinstance(value, str) else value


TaxonRef = Annotated[Taxon, BeforeValidator(_taxon_shorthand, json_schema_input_type=str | Taxon)]


class Author(_Model):
    name: Name
    orcid: str | None = Field(default=None, description="ORCID iD; the check digit is verified", examples=["0000-0002-1825-0097"])
    affiliation: ShortText | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    role: Name | None = Field(default=None, description="e.g. corresponding author, data curator")

    @field_validator("orcid")
    @classmethod
    def _valid_orcid(cls, value: str | None) -> str | None:
        return _orcid(value) if value is not None else None


class Funding(_Model):
    funder: Name
    grant_id: Name | None = None


class Publication(_Model):
    """A related publication, by DOI and/or PubMed ID (at least one)."""

    doi: str | None = Field(default=None, description="bare DOI, doi: CURIE or doi.org URL; stored bare, lower-case")
    pmid: Annotated[
        str,
        BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v, json_schema_input_type=str | int),
        StringConstraints(strip_whitespace=True, pattern=r"^[1-9]\d{0,8}$"),
    ] | None = Field(default=None, description="PubMed ID (number or text)")
    pmcid: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^PMC\d{1,9}$")] | None = None
    title: Title | None = None
    authors: Annotated[list[Name], Field(max_length=MAX_SECTION_ITEMS)] = Field(default_factory=list)
    year: Annotated[int, Field(ge=1600, le=2200)] | None = None

    @field_validator("doi")
    @classmethod
    def _valid_doi(cls, value: str | None) -> str | None:
        return _doi(value) if value is not None else None

    @model_validator(mode="after")
    def _one_identifier(self) -> Publication:
        if self.doi is None and self.pmid is None:
            raise PydanticCustomError("publication_id", "a publication needs a doi or a pmid")
        return self

    @property
    def key(self) -> str:
        return f"doi:{self.doi}" if self.doi else f"pubmed:{self.pmid}"


CrossReference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[A-Za-z][A-Za-z0-9._-]*:\S+$"),
    Field(description="CURIE of a related record, e.g. EMPIAR:10028, PDB:6ZQ8, BioStudies:S-BIAD1"),
]


class Study(_Model):
    title: Title
    description: LongText
    keywords: Annotated[list[Keyword], Field(max_length=50)] = Field(default_factory=list)
    licence: Annotated[Licence, _case_insensitive(list(LICENCES))] = Field(description="one of " + ", ".join(LICENCES))
    release_date: date = Field(description="public from this day on; a future date embargoes the study until then")
    authors: Annotated[list[Author], Field(min_length=1, max_length=MAX_SECTION_ITEMS)]
    funding: Annotated[list[Funding], Field(max_length=100)] = Field(default_factory=list)
    publications: Annotated[list[Publication], Field(max_length=100)] = Field(default_factory=list)
    cross_references: Annotated[list[CrossReference], Field(max_length=MAX_SECTION_ITEMS)] = Field(default_factory=list)


class Biosample(_Model):
    """REMBI Biosample: what was imaged."""

    id: LocalId
    organism: TaxonRef
    biological_entity: Title = Field(description="e.g. HeLa cells, mouse embryo, Arabidopsis root")
    description: LongText | None = None
    intrinsic_variables: Annotated[list[ShortText], Field(max_length=100)] = Field(default_factory=list)
    extrinsic_variables: Annotated[list[ShortText], Field(max_length=100)] = Field(default_factory=list)
    experimental_variables: Annotated[list[ShortText], Field(max_length=100)] = Field(default_factory=list)


class Specimen(_Model):
    """REMBI Specimen: how the biosample was prepared for imaging."""

    id: LocalId
    preparation_protocol: LongText
    growth_protocol: LongText | None = None
    description: LongText | None = None


class Acquisition(_Model):
    """REMBI Image acquisition."""

    id: LocalId
    imaging_method: str = Field(description="FBbi term (CURIE, short form or IRI), e.g. FBbi:00000251")
    instrument: ShortText = Field(description="microscope make and model, detector, objective")
    protocol: LongText | None = None
    parameters: Attributes = Field(default_factory=dict, description="e.g. {objective: 63x/1.4 oil}")

    @field_validator("imaging_method")
    @classmethod
    def _fbbi(cls, value: str, info: ValidationInfo) -> str:
        return check_term(value, info, prefix="FBbi", what="imaging method")


class AnnotationMethod(_Model):
    """MIFA annotation method: what kind of annotations, made how."""

    id: LocalId
    method_type: Annotated[AnnotationType, _case_insensitive(AnnotationType.__args__)]
    source: Annotated[AnnotationSource, _case_insensitive(AnnotationSource.__args__)]
    protocol: LongText | None = None
    software: ShortText | None = None


class Gene(_Model):
    id: Identifier = Field(description="as published: Ensembl, SGD ORF, TAIR, ... e.g. ENSG00000130402")
    symbol: Name | None = None
    organism: TaxonRef | None = Field(default=None, description="default: the dataset's biosample organism")


class Reagent(_Model):
    kind: Annotated[ReagentKind, _case_insensitive(ReagentKind.__args__)]
    id: Identifier = Field(description="identifier as published (siRNA id, compound name, antibody id)")
    name: Name | None = None
    properties: Attributes = Field(default_factory=dict, description="e.g. sequence, SMILES, dose")

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


class PhenotypeAnnotation(_Model):
    """A phenotype term observed in an image; `name` is the authors' name (default: the term label)."""

    term: str = Field(description="CMPO (or other loaded phenotype ontology) term")
    name: Name | None = None

    @model_validator(mode="after")
    def _known(self, info: ValidationInfo) -> PhenotypeAnnotation:
        self.term = check_term(self.term, info)
        return self


def _phenotype_shorthand(value: Any) -> Any:
    return {"term": value} if isinstance(value, str) else value


PhenotypeRef = Annotated[
    PhenotypeAnnotation, BeforeValidator(_phenotype_shorthand, json_schema_input_type=str | PhenotypeAnnotation)
]

RelativePath = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1_024, pattern=r"^[^\\\x00-\x1f]+$"),
    Field(description="path relative to the submission's file root; no '..', no leading '/'"),
]


class ImageFile(_Model):
    """One image file and what is known about it."""

    path: RelativePath
    name: Title | None = Field(default=None, description="display name (default: the path)")
    format: Annotated[ImageFormat, _case_insensitive(IMAGE_FORMATS)]
    size_bytes: Annotated[int, Field(ge=0, le=2**53)]
    checksum: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^(md5:[0-9a-f]{32}|sha1:[0-9a-f]{40}|sha256:[0-9a-f]{64})$")
    ] = Field(description="md5:<32 hex>, sha1:<40 hex> or sha256:<64 hex>")
    ome_zarr_url: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=2_048, pattern=r"^(https?|s3|file)://\S+$")
    ] | None = None
    plate: Identifier | None = Field(default=None, description="screens: plate name")
    well: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^([A-Za-z]{1,2}0*\d{1,3}|[Rr]0*\d{1,3}[Cc]0*\d{1,3})$")] | None = Field(
        default=None, description="screens: well, A1 or R1C1 style"
    )
    control_type: Name | None = None
    comments: ShortText | None = None
    attributes: Attributes = Field(default_factory=dict)
    genes: Annotated[list[Gene], Field(max_length=MAX_PER_IMAGE)] = Field(default_factory=list)
    reagents: Annotated[list[Reagent], Field(max_length=MAX_PER_IMAGE)] = Field(default_factory=list)
    phenotypes: Annotated[list[PhenotypeRef], Field(max_length=MAX_PER_IMAGE)] = Field(default_factory=list)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise PydanticCustomError("path", "path must be relative, without '..' segments: {value}", {"value": repr(value)})
        return value

    @model_validator(mode="after")
    def _plate_and_well(self) -> ImageFile:
        if (self.plate is None) != (self.well is None):
            raise PydanticCustomError("plate_well", "plate and well go together: give both or neither")
        return self


class Dataset(_Model):
    """A study component: images sharing biosample, specimen, acquisition (and annotation method)."""

    id: LocalId
    name: Title | None = None
    description: LongText | None = None
    kind: Literal["experiment", "screen"] = Field(default="experiment", description="screens have plates and wells")
    biosample: LocalId
    specimen: LocalId
    acquisition: LocalId
    annotation_method: LocalId | None = None
    images: Annotated[list[ImageFile], Field(min_length=1, max_length=MAX_IMAGES_PER_DATASET)]

    @field_validator("biosample", "specimen", "acquisition", "annotation_method")
    @classmethod
    def _declared(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = {"biosample": "biosample", "specimen": "specimen", "acquisition": "acquisition",
                "annotation_method": "annotation method"}[info.field_name]  # type: ignore[index]
        return _reference(kind, value, info) if value is not None else None


class Submission(_Model):
    """A study submitted to the hub (REMBI)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        title="BioImage Hub study submission",
        json_schema_extra={"$comment": f"bioimage-hub submission format, version {SCHEMA_VERSION}"},
    )

    schema_version: Literal[1] = Field(default=1, description="version of this format")
    study: Study
    biosamples: Annotated[list[Biosample], Field(min_length=1, max_length=MAX_SECTION_ITEMS)]
    specimens: Annotated[list[Specimen], Field(min_length=1, max_length=MAX_SECTION_ITEMS)]
    acquisitions: Annotated[list[Acquisition], Field(min_length=1, max_length=MAX_SECTION_ITEMS)]
    annotation_methods: Annotated[list[AnnotationMethod], Field(max_length=MAX_SECTION_ITEMS)] = Field(default_factory=list)
    datasets: Annotated[list[Dataset], Field(min_length=1, max_length=MAX_DATASETS)]

    def image_count(self) -> int:
        return sum(len(d.images) for d in self.datasets)


def json_schema() -> dict[str, Any]:
    schema = Submission.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(json_schema_text())
