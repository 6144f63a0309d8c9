"""Pure-Python reader of one IDR study folder (as laid out in IDR/idr-metadata).

    folder/
      idrNNNN-study.txt                      study, publications, screens/experiments
      screenA/ (or experimentA/, ...)
        idrNNNN-screenA-annotation.csv       one row per well (screens) / image (experiments)
        idrNNNN-screenA-bulkmap-config.yml   which columns IDR maps to gene/phenotype/...

`read_study(folder)` returns a `ParsedStudy` with everything normalised (see
`bioimage_hub.models.idr`). Conventions chosen here:

* Dataset id `idrNNNN-<subfolder>`; the subfolder is the part after the last `/` of
  `Comment[IDR Screen Name]` / `Comment[IDR Experiment Name]`.
* Screens: image id `<dataset id>/<plate>/<well>` with the well label canonicalised to
  upper-case row letters + unpadded column number (`a01` -> `A1`); `well_row` and
  `well_column` are both **0-based** as in OMERO (`A1` -> 0, 0; `H12` -> 7, 11; `AA3` -> 26, 2;
  `R2C3` style -> 1, 2). Experiments: `<dataset id>/<dataset name>/<image name>` (just
  `<dataset id>/<dataset name>` when a CSV has no `Image Name` column: dataset-level rows).
* Rows giving the same image id are merged (union of links, attributes joined with `; `);
  every merge is reported in `ParsedStudy.warnings`.
* A row is `annotated=False`, with no organism/gene/reagent/phenotype links, when its
  Comments say `annotation not available` / `no annotation ...`, its Control Type is
  `empty well`, or it has none of those links anyway.
* Reagents: natural key `<kind>:<identifier>`; intrinsic supplementary columns (sequences,
  SMILES, mechanism of action) are reagent properties, per-use ones (dose, concentration,
  dilution, volume) stay image attributes, as they differ from well to well.
* Phenotypes: one per distinct name in the study, id `<study accession>:<name>`; the
  term comes from the CSV (`Phenotype N Term Accession` / `Term Name`), else from the study
  file's `# Phenotypes` rows, which also give the description.
* Genes: ids split with the bulkmap `split` of the column when given (symbols are paired
  with ids when they split into as many values); synonyms split on the bulkmap split, else
  on `;`, else `|`, else `, `.

Things that are odd but recoverable become `ParsedStudy.warnings`; things that make the
folder unreadable raise `IdrFormatError` naming the file, line and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote

from bioimage_hub.importers.idr.annotation import ColumnMap, iter_rows, map_columns
from bioimage_hub.importers.idr.bulkmap import read_bulkmap
from bioimage_hub.importers.idr.errors import IdrFormatError
from bioimage_hub.importers.idr.study_file import Block, StudyFile, find_accession, parse_study_file
from bioimage_hub.importers.idr.text import canonical_curie, clean, norm_key, split_values
from bioimage_hub.models.idr import (
    Dataset,
    Gene,
    Image,
    Organism,
    ParsedStudy,
    Phenotype,
    Publication,
    Reagent,
    Study,
    TermRef,
)

__all__ = ["IdrFormatError", "find_study_folders", "read_study", "study_file_of"]

_NO_ANNOTATION = re.compile(r"annotation not available|no annotation", re.IGNORECASE)
_WELL_A1 = re.compile(r"^([A-Za-z]+)\s*0*(\d+)$")
_WELL_RC = re.compile(r"^[Rr]0*(\d+)\s*[Cc]0*(\d+)$")
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%d.%m.%Y", "%d %B %Y", "%B %d, %Y", "%Y-%m")


# --------------------------------------------------------------------------- folders


def study_file_of(folder: Path) -> Path | None:
    """The `idr*-study.txt` of FOLDER, None if it has none; IdrFormatError if several."""
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.name.lower().startswith("idr") and p.name.lower().endswith("-study.txt")
    )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise IdrFormatError(folder, None, f"several study files in one folder: {names}")
    return found[0] if found else None


def find_study_folders(path: Path) -> list[Path]:
    """PATH itself if it is a study folder, else its sub-folders that are (sorted by name).

    A path to an `idr*-study.txt` file is taken as its folder. Raises FileNotFoundError for a
    missing path; returns [] when no study folder is found.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    if path.is_file():
        return [path.parent] if study_file_of(path.parent) == path else []
    if study_file_of(path) is not None:
        return [path]
    return [p for p in sorted(path.iterdir()) if p.is_dir() and study_file_of(p) is not None]


# --------------------------------------------------------------------------- study file


def _bare_doi(value: str | None) -> str | None:
    text = clean(value)
    if text is None:
        return None
    match = _DOI.search(unquote(text))
    return match.group(1).rstrip(".,;") if match else None


def _pmid(value: str | None) -> str | None:
    match = re.search(r"\d+", value or "")
    return match.group(0) if match else None


def _pmcid(value: str | None) -> str | None:
    match = re.search(r"(?:PMC)?\s*(\d+)", value or "", re.IGNORECASE)
    return f"PMC{match.group(1)}" if match else None


def _authors(value: str | None) -> list[str]:
    text = clean(value)
    if text is None:
        return []
    sep = ";" if ";" in text else ","
    return [a.strip() for a in text.rstrip(".").split(sep) if a.strip()]


def _text(value: str | None) -> str | None:
    """Free text of the study file: IDR writes line breaks as a literal backslash-n."""
    return value.replace("\\n", "\n") if value else value


def _parse_date(value: str | None) -> date | None:
    text = clean(value)
    if text is None:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class _Context:
    """Accumulates the study's deduplicated entities while rows are read."""

    accession: str
    warnings: list[str] = field(default_factory=list)
    organisms: dict[str, Organism] = field(default_factory=dict)
    genes: dict[str, Gene] = field(default_factory=dict)
    reagents: dict[str, Reagent] = field(default_factory=dict)
    phenotypes: dict[str, Phenotype] = field(default_factory=dict)
    declared: dict[str, str | None] = field(default_factory=dict)
    organism_by_name: dict[str, str] = field(default_factory=dict)
    publications: dict[str, Publication] = field(default_factory=dict)

    def warn(self, path: Path, line: int | None, message: str) -> None:
        where = f"{path.name}:{line}" if line is not None else path.name
        self.warnings.append(f"{where}: {message}")

    def term(self, path: Path, line: int | None, accession: str | None, label: str | None,
             what: str) -> TermRef | None:
        acc = clean(accession)
        if acc is None:
            return None
        curie = canonical_curie(acc)
        if curie is None:
            self.warn(path, line, f"{what}: {acc!r} is not a term accession; ignored")
            return None
        return TermRef(id=curie, label=clean(label))

    def add_organism(self, curie: str, name: str | None) -> str:
        known = self.organisms.get(curie)
        if known is None:
            self.organisms[curie] = Organism(id=curie, name=name)
        elif known.name is None and name:
            known.name = name
        if name:
            self.organism_by_name.setdefault(name.casefold(), curie)
        return curie

    def declare_phenotype(self, name: str, description: str | None) -> None:
        """A phenotype named in the study file (gives the description of the CSV's ones)."""
        key = " ".join(name.split())
        if description and not self.declared.get(key):
            self.declared[key] = description
        else:
            self.declared.setdefault(key, None)

    def add_phenotype(self, name: str, term: TermRef | None, path: Path, line: int | None) -> str:
        key = " ".join(name.split())
        pid = f"{self.accession}:{key}"
        known = self.phenotypes.get(pid)
        if known is None:
            self.phenotypes[pid] = Phenotype(id=pid, name=key, term=term,
                                             description=self.declared.get(key))
        elif term is not None:
            if known.term is None:
                known.term = term
            elif known.term.id != term.id:
                self.warn(path, line, f"phenotype {key!r} mapped to both {known.term.id} and"
                                      f" {term.id}; keeping the first")
            elif known.term.label is None and term.label:
                known.term.label = term.label
        return pid

    def add_publication(self, pub: Publication) -> None:
        known = self.publications.get(pub.id)
        if known is None:
            self.publications[pub.id] = pub
            return
        for name in ("doi", "pmid", "pmcid", "title", "preprint_url"):
            if getattr(known, name) is None and getattr(pub, name) is not None:
                setattr(known, name, getattr(pub, name))
        if not known.authors:
            known.authors = pub.authors


def _study(sf: StudyFile, folder: Path, ctx: _Context) -> Study:
    block = sf.study
    path = sf.path
    title = block.get("study title")
    if title is None:
        raise IdrFormatError(path, block.line_of("study title"),
                             "missing or empty required field", column="Study Title")

    # Study name: the part before '/' of the screens'/experiments' IDR names, else the folder.
    name = None
    for comp in sf.components:
        idr_name = comp.idr_name
        if idr_name and "/" in idr_name:
            name = idr_name.rsplit("/", 1)[0].strip()
            break
    if name is None:
        name = folder.name if folder.name.lower().startswith(ctx.accession) else ctx.accession

    raw_date = block.get("study public release date")
    release = _parse_date(raw_date)
    if raw_date and release is None:
        ctx.warn(path, block.line_of("study public release date"),
                 f"Study Public Release Date {raw_date!r} is not a date; left empty")

    organisms: list[Organism] = []
    names = block.values("study organism")
    accessions = block.values("study organism term accession")
    for i in range(max(len(names), len(accessions))):
        org_name = clean(names[i]) if i < len(names) else None
        acc = clean(accessions[i]) if i < len(accessions) else None
        if acc is None:
            if org_name:
                ctx.warn(path, block.line_of("study organism"),
                         f"Study Organism {org_name!r} has no term accession; ignored")
            continue
        curie = canonical_curie(acc)
        if curie is None:
            ctx.warn(path, block.line_of("study organism term accession"),
                     f"Study Organism Term Accession {acc!r} is not a CURIE; ignored")
            continue
        ctx.add_organism(curie, org_name)
        organisms.append(ctx.organisms[curie].model_copy())

    return Study(
        accession=ctx.accession,
        name=name,
        title=title,
        description=_text(block.get("study description")),
        type=block.get("study type"),
        license=block.get("study license"),
        license_url=block.get("study license url"),
        release_date=release,
        external_url=block.get("study external url"),
        organisms=organisms,
    )


_PUB_KEYS = {
    "pmid": "study pubmed id",
    "pmcid": "study pmc id",
    "doi": "study doi",
    "title": "study publication title",
    "authors": "study author list",
    "preprint_url": "study publication preprint",
}


def _publications(sf: StudyFile, ctx: _Context) -> None:
    block = sf.study
    columns = {k: block.values(key) for k, key in _PUB_KEYS.items()}
    count = max((len(v) for v in columns.values()), default=0)
    for i in range(count):
        raw = {k: clean(v[i]) if i < len(v) else None for k, v in columns.items()}
        if not any(raw.values()):
            continue
        doi = _bare_doi(raw["doi"])
        if raw["doi"] and doi is None:
            ctx.warn(sf.path, block.line_of("study doi"),
                     f"Study DOI {raw['doi']!r} (column {i + 2}) is not a DOI; ignored")
        pmid = _pmid(raw["pmid"])
        pmcid = _pmcid(raw["pmcid"])
        preprint = raw["preprint_url"]
        if doi:
            pid = f"doi:{doi}"
        elif pmid:
            pid = f"pubmed:{pmid}"
        elif pmcid:
            pid = f"pmc:{pmcid}"
        elif preprint:
            pid = f"url:{preprint}"
        elif raw["title"]:
            pid = f"title:{' '.join(raw['title'].split()).casefold()}"
        else:
            continue  # only an author list: nothing to identify it by
        ctx.add_publication(
            Publication(id=pid, doi=doi, pmid=pmid, pmcid=pmcid, title=raw["title"],
                        authors=_authors(raw["authors"]), preprint_url=preprint)
        )


def _block_phenotypes(block: Block, ctx: _Context) -> None:
    """Phenotypes declared side by side in the study file's `# Phenotypes` rows.

    Only their descriptions are used: a phenotype exists in the result when some image is
    annotated with it, and its term comes from the annotation CSV (the study file's term
    columns are a summary of the same mapping).
    """
    names = block.values("phenotype name")
    descriptions = block.values("phenotype description")
    for i, name in enumerate(names):
        if clean(name):
            desc = clean(descriptions[i]) if i < len(descriptions) else None
            ctx.declare_phenotype(name, _text(desc))


# --------------------------------------------------------------------------- datasets


def _dataset(sf: StudyFile, comp: Block, index: int, study_name: str, ctx: _Context
             ) -> tuple[Dataset, str]:
    idr_name = comp.idr_name
    if idr_name:
        sub = idr_name.rstrip("/").rsplit("/", 1)[-1].strip()
    else:
        sub = f"{comp.kind}{chr(ord('A') + index) if index < 26 else index + 1}"
        idr_name = f"{study_name}/{sub}"
        ctx.warn(sf.path, comp.line, f"{comp.kind} without Comment[IDR {comp.kind.title()} Name];"
                                     f" assuming {idr_name!r}")
    methods = comp.own_values("imaging method")
    method_accs = comp.own_values("imaging method term accession")
    imaging = None
    for i, acc in enumerate(method_accs):
        label = methods[i] if i < len(methods) else None
        imaging = ctx.term(sf.path, comp.line_of(f"{comp.kind} imaging method term accession"),
                           acc, label, f"{comp.kind.title()} Imaging Method Term Accession")
        if imaging is not None:
            break
    if imaging is None and comp.own("imaging method"):
        ctx.warn(sf.path, comp.line_of(f"{comp.kind} imaging method"),
                 f"imaging method {comp.own('imaging method')!r} has no usable term accession")
    dataset = Dataset(
        id=f"{ctx.accession}-{sub}",
        name=idr_name,
        kind=comp.kind,  # type: ignore[arg-type]
        description=_text(comp.own("description")),
        imaging_method=imaging,
        technology_type=comp.own("technology type"),
        sample_type=comp.own("sample type"),
    )
    return dataset, sub


def _annotation_files(folder: Path, accession: str, sub: str) -> list[Path]:
    base = folder / sub
    if not base.is_dir():
        return []
    for ext in (".csv", ".csv.gz"):
        candidate = base / f"{accession}-{sub}-annotation{ext}"
        if candidate.is_file():
            return [candidate]
    found = sorted(base.glob("*-annotation.csv")) + sorted(base.glob("*-annotation.csv.gz"))
    if not found:
        found = sorted(base.rglob("*-annotation.csv")) + sorted(base.rglob("*-annotation.csv.gz"))
    return [p for p in found if p.is_file()]


def _bulkmap_file(folder: Path, accession: str, sub: str) -> Path | None:
    base = folder / sub
    candidate = base / f"{accession}-{sub}-bulkmap-config.yml"
    if candidate.is_file():
        return candidate
    found = sorted(p for p in base.glob("*bulkmap-config.y*ml") if p.is_file()) if base.is_dir() else []
    return found[0] if found else None


# --------------------------------------------------------------------------- rows


def _row_index(letters: str) -> int:
    value = 0
    for ch in letters.upper():
        value = value * 26 + (ord(ch) - ord("A") + 1)
    return value - 1


# Far beyond any plate (a 3456-well plate has 48 rows x 72 columns); larger numbers are typos
# or garbage, and would not even fit the graph's 64-bit integers.
_MAX_WELL_INDEX = 10_000


def parse_well(label: str) -> tuple[str, int | None, int | None]:
    """Canonical label and 0-based (row, column) of a well label; (label, None, None) if odd."""
    text = label.strip()
    match = _WELL_A1.match(text)
    if match and len(match.group(1)) <= 2 and len(match.group(2)) <= 5:
        column = int(match.group(2))
        if column <= _MAX_WELL_INDEX:
            return f"{match.group(1).upper()}{column}", _row_index(match.group(1)), column - 1
    match = _WELL_RC.match(text)
    if match and max(len(match.group(1)), len(match.group(2))) <= 5:
        row, column = int(match.group(1)), int(match.group(2))
        if max(row, column) <= _MAX_WELL_INDEX:
            return text.upper(), row - 1, column - 1
    return text, None, None


def _synonyms(value: str | None, split: str | None) -> list[str]:
    if split:
        return split_values(value, split)
    text = clean(value)
    if text is None:
        return []
    for sep in (";", "|"):
        if sep in text:
            return split_values(text, sep)
    return [s.strip() for s in re.split(r",\s+", text) if s.strip()]


def _merge(first: Image, other: Image) -> None:
    for name in ("gene_ids", "reagent_ids", "phenotype_ids"):
        values = getattr(first, name)
        values.extend(v for v in getattr(other, name) if v not in values)
    first.organism_id = first.organism_id or other.organism_id
    first.annotated = first.annotated or other.annotated
    for name in ("control_type", "comments"):
        a, b = getattr(first, name), getattr(other, name)
        if a is None or (b is not None and b not in a.split("; ")):
            setattr(first, name, b if a is None else f"{a}; {b}")
    for key, value in other.attributes.items():
        known = first.attributes.get(key)
        if known is None:
            first.attributes[key] = value
        elif value not in known.split("; "):
            first.attributes[key] = f"{known}; {value}"


def _read_rows(path: Path, header: list[str], rows, cm: ColumnMap, dataset: Dataset,
               ctx: _Context, images: dict[str, Image]) -> None:
    def cell(cells: list[str], i: int | None) -> str | None:
        return clean(cells[i]) if i is not None else None

    organism_curie_cache: dict[tuple[str | None, str | None], str | None] = {}
    gene_split = cm.splits.get(cm.gene_id) if cm.gene_id is not None else None
    symbol_split = cm.splits.get(cm.gene_symbol) if cm.gene_symbol is not None else None
    synonym_split = cm.splits.get(cm.gene_synonyms) if cm.gene_synonyms is not None else None
    merged = 0

    for line, cells in rows:
        # ---- identity
        if cm.is_wells:
            plate = cell(cells, cm.plate)
            well_raw = cell(cells, cm.well) or cell(cells, cm.well_number)
            if plate is None or well_raw is None:
                ctx.warn(path, line, "row without Plate or Well; skipped")
                continue
            well, row_i, col_i = parse_well(well_raw)
            image = Image(id=f"{dataset.id}/{plate}/{well}", name=f"{plate}/{well}", plate=plate,
                          well=well, well_row=row_i, well_column=col_i)
        else:
            ds_name = cell(cells, cm.dataset_name)
            if ds_name is None:
                ctx.warn(path, line, "row without Dataset Name; skipped")
                continue
            if cm.image_name is None:
                image = Image(id=f"{dataset.id}/{ds_name}", name=ds_name, dataset_name=ds_name)
            else:
                img_name = cell(cells, cm.image_name)
                if img_name is None:
                    ctx.warn(path, line, "row without Image Name; skipped")
                    continue
                image = Image(id=f"{dataset.id}/{ds_name}/{img_name}", name=img_name,
                              dataset_name=ds_name)
        image.control_type = cell(cells, cm.control_type)
        image.comments = cell(cells, cm.comments)
        image.attributes = {label: v for label, j in cm.attributes if (v := clean(cells[j]))}

        # ---- links
        organism_id = None
        org_name = cell(cells, cm.organism)
        org_acc = cell(cells, cm.organism_accession)
        if org_name or org_acc:
            key = (org_name, org_acc)
            if key not in organism_curie_cache:
                curie = canonical_curie(org_acc) if org_acc else None
                if curie is None:
                    curie = ctx.organism_by_name.get((org_name or "").casefold())
                    ctx.warn(path, line, f"organism {org_name!r} / {org_acc!r}: no usable"
                                         f" NCBITaxon accession"
                                         + (f"; using the study's {curie}" if curie else ""))
                organism_curie_cache[key] = curie
            organism_id = organism_curie_cache[key]

        # Candidate links; registered in the study only if the row turns out annotated.
        genes: list[tuple[str, str | None, list[str]]] = []
        ids = split_values(cells[cm.gene_id], gene_split) if cm.gene_id is not None else []
        if ids:
            symbols = (split_values(cells[cm.gene_symbol], symbol_split or gene_split)
                       if cm.gene_symbol is not None else [])
            raw_symbol = cell(cells, cm.gene_symbol)
            synonyms = (_synonyms(cells[cm.gene_synonyms], synonym_split)
                        if cm.gene_synonyms is not None and len(ids) == 1 else [])
            for n, gid in enumerate(ids):
                if len(symbols) == len(ids):
                    symbol = symbols[n]
                else:
                    symbol = raw_symbol if len(ids) == 1 else None
                genes.append((gid, symbol, synonyms))

        reagents: list[tuple[str, str, str, dict[str, str]]] = []
        for rc in cm.reagents:
            props = {label: v for label, j in rc.properties if (v := clean(cells[j]))}
            for name in split_values(cells[rc.id], cm.splits.get(rc.id)):
                reagents.append((f"{rc.kind}:{name}", rc.kind, name, props))

        phenotypes: list[tuple[str, TermRef | None]] = []
        for pc in cm.phenotypes:
            names = split_values(cells[pc.name], cm.splits.get(pc.name))
            acc = cell(cells, pc.accession)
            label = cell(cells, pc.term_name)
            if not names and acc:
                names = [label or acc]
            if not names:
                continue
            term = (ctx.term(path, line, acc, label, header[pc.accession])
                    if acc and pc.accession is not None else None)
            phenotypes.extend((name, term) for name in names)

        not_available = bool(
            (image.comments and _NO_ANNOTATION.search(image.comments))
            or (image.control_type and norm_key(image.control_type) == "empty well")
        )
        has_links = bool(organism_id or genes or reagents or phenotypes)
        image.annotated = has_links and not not_available
        if image.annotated:
            if organism_id:
                image.organism_id = ctx.add_organism(organism_id, org_name)
            for gid, symbol, synonyms in genes:
                gene = ctx.genes.get(gid)
                if gene is None:
                    gene = ctx.genes[gid] = Gene(id=gid, symbol=symbol, organism_id=organism_id)
                else:
                    gene.symbol = gene.symbol or symbol
                    gene.organism_id = gene.organism_id or organism_id
                gene.synonyms.extend(s for s in synonyms if s not in gene.synonyms)
                if gid not in image.gene_ids:
                    image.gene_ids.append(gid)
            for rid, kind, name, props in reagents:
                reagent = ctx.reagents.get(rid)
                if reagent is None:
                    ctx.reagents[rid] = Reagent(id=rid, kind=kind, name=name,  # type: ignore[arg-type]
                                                properties=dict(props))
                else:
                    for k, v in props.items():
                        reagent.properties.setdefault(k, v)
                if rid not in image.reagent_ids:
                    image.reagent_ids.append(rid)
            for name, term in phenotypes:
                pid = ctx.add_phenotype(name, term, path, line)
                if pid not in image.phenotype_ids:
                    image.phenotype_ids.append(pid)

        known = images.get(image.id)
        if known is None:
            images[image.id] = image
        else:
            _merge(known, image)
            merged += 1
            ctx.warn(path, line, f"duplicate image {image.id!r}; merged into the earlier row")
    if merged:
        ctx.warn(path, None, f"{merged} duplicate row(s) merged")


# --------------------------------------------------------------------------- entry point


def read_study(folder: Path) -> ParsedStudy:
    """Parse one study folder (see the module docstring for the conventions)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IdrFormatError(folder, None, "not a directory")
    study_path = study_file_of(folder)
    if study_path is None:
        raise IdrFormatError(folder, None, "no idr*-study.txt in this folder")
    sf = parse_study_file(study_path)

    accession = find_accession(sf.study.get("comment[idr study accession]"))
    from_name = find_accession(study_path.name)
    if accession is None:
        accession = from_name
        if accession is None:
            raise IdrFormatError(study_path, sf.study.line_of("comment[idr study accession]"),
                                 "no study accession (idrNNNN) in the field or the file name",
                                 column="Comment[IDR Study Accession]")
    ctx = _Context(accession=accession)
    if from_name and from_name != accession:
        ctx.warn(study_path, sf.study.line_of("comment[idr study accession]"),
                 f"accession {accession} differs from the file name's {from_name}")

    study = _study(sf, folder, ctx)
    _publications(sf, ctx)
    _block_phenotypes(sf.study, ctx)

    if not sf.components:
        ctx.warn(study_path, None, "no Screen or Experiment sections")
    declared = {
        "screen": clean(sf.study.get("study screens number")),
        "experiment": clean(sf.study.get("study experiments number")),
    }
    for kind, number in declared.items():
        found = sum(1 for c in sf.components if c.kind == kind)
        if number and number.isdigit() and int(number) != found:
            ctx.warn(study_path, None, f"Study {kind.title()}s Number says {number},"
                                       f" the file has {found} {kind} section(s)")

    datasets: list[Dataset] = []
    images: dict[str, list[Image]] = {}
    subs_seen: set[str] = set()
    for index, comp in enumerate(sf.components):
        dataset, sub = _dataset(sf, comp, index, study.name, ctx)
        if dataset.id in images:
            raise IdrFormatError(study_path, comp.line, f"{comp.kind} {dataset.name!r} is"
                                 f" declared twice", column=f"Comment[IDR {comp.kind.title()} Name]")
        subs_seen.add(sub)
        _block_phenotypes(comp, ctx)
        datasets.append(dataset)
        images[dataset.id] = _read_dataset(folder, sub, dataset, ctx)

    # Sub-folders with annotation files the study file does not describe.
    for sub_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub_dir.name in subs_seen or not _annotation_files(folder, accession, sub_dir.name):
            continue
        kind = "screen" if sub_dir.name.lower().startswith("screen") else "experiment"
        dataset = Dataset(id=f"{accession}-{sub_dir.name}", name=f"{study.name}/{sub_dir.name}",
                          kind=kind)  # type: ignore[arg-type]
        ctx.warn(study_path, None, f"folder {sub_dir.name}/ has annotations but no section in"
                                   f" the study file; read as {kind} {dataset.name!r}")
        datasets.append(dataset)
        images[dataset.id] = _read_dataset(folder, sub_dir.name, dataset, ctx)

    used = {p.name for p in ctx.phenotypes.values()}
    for name in ctx.declared:
        if name not in used:
            ctx.warn(study_path, None, f"phenotype {name!r} is declared in the study file but"
                                       f" no image is annotated with it")

    return ParsedStudy(
        study=study,
        publications=list(ctx.publications.values()),
        datasets=datasets,
        organisms=list(ctx.organisms.values()),
        genes=list(ctx.genes.values()),
        reagents=list(ctx.reagents.values()),
        phenotypes=list(ctx.phenotypes.values()),
        images=images,
        warnings=ctx.warnings,
    )


def _read_dataset(folder: Path, sub: str, dataset: Dataset, ctx: _Context) -> list[Image]:
    files = _annotation_files(folder, ctx.accession, sub)
    if not files:
        ctx.warn(folder / sub, None, f"no annotation file for {dataset.name!r}; dataset has no"
                                     f" images")
        return []
    bulkmap = read_bulkmap(_bulkmap_file(folder, ctx.accession, sub))
    found: dict[str, Image] = {}
    for path in files:
        header, rows = iter_rows(path)
        cm = map_columns(header, bulkmap)
        if not (cm.is_wells or cm.is_images):
            raise IdrFormatError(path, 1, "the header has neither Plate + Well (screen) nor"
                                          " Dataset Name (experiment) columns",
                                 column="header")
        _read_rows(path, header, rows, cm, dataset, ctx, found)
    return list(found.values())
