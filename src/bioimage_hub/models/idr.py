"""Pydantic models of one IDR study as parsed from its idr-metadata folder.

The IDR reader (`bioimage_hub.importers.idr.reader`) produces these; the graph writer
(`bioimage_hub.graph.writer`) consumes them. Everything here is already normalised:
CURIEs use the canonical `PREFIX:LOCAL` form (`CMPO:0000426`, `NCBITaxon:9606`,
`FBbi:00000246`), DOIs are bare (`10.1083/jcb.201108095`), empty strings are None.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

ReagentKind = Literal["SiRNA", "Compound", "Antibody"]


class Organism(BaseModel):
    id: str = Field(description="NCBITaxon CURIE, e.g. NCBITaxon:9606")
    name: str | None = None


class TermRef(BaseModel):
    """A reference to an ontology term found in the metadata (may not be loaded in the hub)."""

    id: str = Field(description="canonical CURIE, e.g. FBbi:00000246")
    label: str | None = None


class Publication(BaseModel):
    id: str = Field(description="natural key: 'doi:<doi>' if DOI known, else 'pubmed:<pmid>'")
    doi: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    preprint_url: str | None = Field(default=None, description="'Study Publication Preprint'")


class Gene(BaseModel):
    id: str = Field(description="the identifier as given (Ensembl, SGD ORF, TAIR, ...)")
    symbol: str | None = None
    synonyms: list[str] = Field(default_factory=list)
    organism_id: str | None = None


class Reagent(BaseModel):
    id: str = Field(description="natural key '<kind>:<identifier>'")
    kind: ReagentKind
    name: str
    properties: dict[str, str] = Field(default_factory=dict, description="e.g. SMILES, sequences")


class Phenotype(BaseModel):
    """An author-named phenotype of one study, optionally mapped to an ontology term."""

    id: str = Field(description="natural key '<study accession>:<name>'")
    name: str
    term: TermRef | None = None
    description: str | None = Field(default=None, description="from the study file's Phenotypes")


class Image(BaseModel):
    id: str = Field(description="natural key, '<dataset id>/<plate>/<well>' or '<dataset id>/<dataset name>/<image name>'")
    name: str
    dataset_name: str | None = Field(default=None, description="IDR dataset (experiments) ")
    plate: str | None = None
    well: str | None = None
    well_row: int | None = None
    well_column: int | None = None
    organism_id: str | None = None
    gene_ids: list[str] = Field(default_factory=list)
    reagent_ids: list[str] = Field(default_factory=list)
    phenotype_ids: list[str] = Field(default_factory=list)
    control_type: str | None = None
    comments: str | None = None
    annotated: bool = Field(default=True, description="False for empty wells / 'annotation not available'")
    attributes: dict[str, str] = Field(default_factory=dict, description="other included bulkmap columns")


class Dataset(BaseModel):
    """One IDR screen or experiment."""

    id: str = Field(description="e.g. idr0004-screenA")
    name: str = Field(description="IDR name, e.g. idr0004-thorpe-rad52/screenA")
    kind: Literal["screen", "experiment"]
    description: str | None = None
    imaging_method: TermRef | None = None
    technology_type: str | None = None
    sample_type: str | None = None


class Study(BaseModel):
    accession: str = Field(description="idrNNNN")
    name: str = Field(description="e.g. idr0004-thorpe-rad52")
    title: str
    description: str | None = None
    type: str | None = None
    license: str | None = None
    license_url: str | None = None
    release_date: date | None = None
    external_url: str | None = None
    organisms: list[Organism] = Field(default_factory=list)


class ParsedStudy(BaseModel):
    """Everything one study folder contributes to the graph, deduplicated by natural key."""

    study: Study
    publications: list[Publication] = Field(default_factory=list)
    datasets: list[Dataset] = Field(default_factory=list)
    organisms: list[Organism] = Field(default_factory=list)
    genes: list[Gene] = Field(default_factory=list)
    reagents: list[Reagent] = Field(default_factory=list)
    phenotypes: list[Phenotype] = Field(default_factory=list)
    # images per dataset id, in file order
    images: dict[str, list[Image]] = Field(default_factory=dict)
    warnings: list[str] = Field(
        default_factory=list, description="recoverable oddities met while reading (file:line: ...)"
    )
