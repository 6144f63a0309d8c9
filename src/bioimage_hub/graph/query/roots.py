"""Root fields: where each top-level GraphQL field starts in the graph, and its filters.

Each function takes the root field's selection tree and returns one compiled statement.
Filters become MATCH patterns anchored on the filtering node (a term, a gene, an organism), so
the planner starts from the selective side instead of scanning every image.
"""

from __future__ import annotations

from typing import Any

from bioimage_hub.api.selection import Field
from bioimage_hub.graph.query.catalog import NODE_TYPES, TYPES, mapped_to
from bioimage_hub.graph.query.compiler import Compiled, Compiler, QueryError, compile_root
from bioimage_hub.ontology.curie import InvalidIdentifier, normalize_curie


def _term(value: str, argument: str) -> str:
    try:
        return normalize_curie(value)
    except InvalidIdentifier as exc:
        raise QueryError(f"{argument}: {exc}") from exc


def _arg(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        value = obj.get(name, default)
    else:
        value = getattr(obj, name, default)
    return default if value is None else value


def _gene_anchor(c: Compiler, gene: str) -> str:
    """Match genes by identifier or (case-insensitive) symbol, both index-backed."""
    g = c.var()
    p = c.param(gene)
    return (
        f"CALL () {{ MATCH ({g}:Gene {{id: {p}}}) RETURN {g} "
        f"UNION MATCH ({g}:Gene {{symbolLower: toLower({p})}}) RETURN {g} }}"
    ), g


def image_filter(c: Compiler, dst: str, flt: Any) -> tuple[list[str], list[str], bool, list[str]]:
    """MATCH patterns, WHERE conditions and CALL anchors for an ImageFilter; distinct if a join can repeat."""
    matches: list[str] = []
    where: list[str] = []
    calls: list[str] = []
    distinct = False
    include = _arg(flt, "includeSubterms", True)
    if phenotype := _arg(flt, "phenotype"):
        term = c.param(_term(phenotype, "filter.phenotype"))
        matches.append(
            f"({dst}:Image)-[:HAS_PHENOTYPE]->(:Phenotype)"
            + mapped_to({"includeSubterms": include}, f"(:OntologyTerm {{id: {term}}})")
        )
        distinct = True
    if gene := _arg(flt, "gene"):
        call, g = _gene_anchor(c, gene)
        calls.append(call)
        matches.append(f"({dst}:Image)-[:HAS_GENE]->({g})")
        distinct = True
    if organism := _arg(flt, "organism"):
        o = c.var()
        matches.append(f"({dst}:Image)-[:OF_ORGANISM]->({o}:Organism)")
        where.append(f"({o}.id = {c.param(_organism_id(organism))} OR toLower({o}.name) = toLower({c.param(organism)}))")
    if method := _arg(flt, "imagingMethod"):
        term = c.param(_term(method, "filter.imagingMethod"))
        matches.append(
            f"({dst}:Image)<-[:HAS_IMAGE]-(:Dataset)-[:IMAGED_BY]->(:OntologyTerm)"
            f"-[:IS_A_CLOSURE*0..1]->(:OntologyTerm {{id: {term}}})"
        )
        distinct = True
    if study := _arg(flt, "study"):
        where.append(f"{dst}.study = {c.param(study)}")
    if not matches:
        matches.append(f"({dst}:Image)")
    return matches, where, distinct, calls


def _organism_id(value: str) -> str:
    try:
        return normalize_curie(value)
    except InvalidIdentifier:
        return value


def images(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    matches, where, distinct, calls = image_filter(c, dst, f.args.get("filter"))
    order = None
    if _arg(f.args.get("filter"), "study") and matches == [f"({dst}:Image)"] and not calls:
        # Only a study filter: seek Image(study, id) from the cursor, in index order (009_*.cypher);
        # ordering by (study, id) under `study = $s` is the id order the cursors encode.
        order = [f"{dst}.study"]
    return compile_root(c, "Image", "connection", [*calls, *matches], f, dst, distinct, where, order)


def image(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    return compile_root(c, "Image", "one", [f"({dst}:Image {{id: {c.param(f.args['id'])}}})"], f, dst)


def study(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    acc = c.param(f.args["accession"])
    return compile_root(c, "Study", "one", [f"({dst}:Study {{accession: {acc}}})"], f, dst)


def studies(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    flt = f.args.get("filter")
    where: list[str] = []
    if organism := _arg(flt, "organism"):
        o = c.var()
        where.append(
            f"EXISTS {{ ({dst})-[:OF_ORGANISM]->({o}:Organism) WHERE {o}.id = {c.param(_organism_id(organism))} "
            f"OR toLower({o}.name) = toLower({c.param(organism)}) }}"
        )
    if phenotype := _arg(flt, "phenotype"):
        term = c.param(_term(phenotype, "filter.phenotype"))
        pattern = mapped_to({"includeSubterms": _arg(flt, "includeSubterms", True)}, f"(:OntologyTerm {{id: {term}}})")
        where.append(f"EXISTS {{ ({dst})-[:HAS_PHENOTYPE_DEFINITION]->(:Phenotype){pattern} }}")
    if gene := _arg(flt, "gene"):
        g = c.var()
        p = c.param(gene)
        where.append(
            f"EXISTS {{ MATCH ({g}:Gene)<-[:HAS_GENE]-(i:Image) WHERE ({g}.id = {p} OR {g}.symbolLower = toLower({p})) "
            f"AND i.study = {dst}.accession }}"
        )
    if text := _arg(flt, "text"):
        p = c.param(text.lower())
        where.append(f"(toLower({dst}.title) CONTAINS {p} OR toLower(coalesce({dst}.description, '')) CONTAINS {p})")
    return compile_root(c, "Study", "connection", [f"({dst}:Study)"], f, dst, False, where)


def gene(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    return compile_root(c, "Gene", "one", [f"({dst}:Gene {{id: {c.param(f.args['id'])}}})"], f, dst)


def genes(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    where: list[str] = []
    if symbol := f.args.get("symbol"):
        where.append(f"{dst}.symbolLower = toLower({c.param(symbol)})")
    matches = [f"({dst}:Gene)"]
    if organism := f.args.get("organism"):
        o = c.var()
        matches = [f"({dst}:Gene)-[:OF_ORGANISM]->({o}:Organism)"]
        where.append(f"({o}.id = {c.param(_organism_id(organism))} OR toLower({o}.name) = toLower({c.param(organism)}))")
    return compile_root(c, "Gene", "connection", matches, f, dst, False, where)


def term(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    tid = c.param(_term(f.args["id"], "id"))
    return compile_root(c, "OntologyTerm", "one", [f"({dst}:OntologyTerm {{id: {tid}}})"], f, dst)


def publication(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    doi, pmid = f.args.get("doi"), f.args.get("pmid")
    if bool(doi) == bool(pmid):
        raise QueryError("publication: give exactly one of `doi` or `pmid`")
    if doi:
        from bioimage_hub.models.identifiers import normalize_doi

        match = f"({dst}:Publication {{doi: {c.param(normalize_doi(doi))}}})"
    else:
        match = f"({dst}:Publication {{pmid: {c.param(str(pmid))}}})"
    return compile_root(c, "Publication", "one", [match], f, dst)


def organisms(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    return compile_root(c, "Organism", "list", [f"({dst}:Organism)"], f, dst)


def ontologies(c: Compiler, f: Field) -> Compiled:
    dst = c.var()
    return compile_root(c, "Ontology", "list", [f"({dst}:Ontology)"], f, dst)


def node(c: Compiler, f: Field) -> Compiled:
    """`node(id)`: try each Node type's natural key (index seeks), first hit wins."""
    value = c.param(f.args["id"])
    options = []
    for type_name in NODE_TYPES:
        node_type = TYPES[type_name]
        dst = c.var()
        fields = f.for_type(type_name, frozenset({"Node"}))
        holder = Field("node", "node", {}, None, fields)
        options.append(
            c.one(type_name, dst, [f"({dst}:{node_type.label} {{{node_type.key}: {value}}})"], holder)
        )
    return Compiled(f"RETURN coalesce({', '.join(options)}) AS result", c.params)


# --------------------------------------------------------------------------- term search

_LUCENE_SPECIAL = set('+-&|!(){}[]^"~*?:\\/')


def lucene_words(text: str) -> str:
    """A Lucene query requiring every word of `text` (escaped), for the word-match tier."""
    words = []
    for word in text.split():
        escaped = "".join("\\" + ch if ch in _LUCENE_SPECIAL else ch for ch in word)
        words.append(f"+{escaped}")
    return " ".join(words)


def search_terms(c: Compiler, f: Field) -> Compiled:
    """Ranked term search over labels and synonyms (TermName nodes, TEXT + full-text indexes).

    Tiers, best first: exact label (0), exact synonym (1), label prefix (2), every word (3),
    substring of a label or synonym (4). Each term appears once, at its best tier; within a tier
    shorter labels come first. Keyset cursor over (tier, label length, id).
    """
    text = " ".join(str(f.args.get("query") or "").split()).lower()
    if not text:
        raise QueryError("searchTerms: `query` must not be empty")
    if len(text) > 200:
        raise QueryError("searchTerms: `query` is longer than 200 characters")
    first = c.page_size(f)
    q = c.param(text)
    filters = []
    ontologies = [o.lower() for o in (f.args.get("ontologies") or [])]
    if ontologies:
        filters.append(f"n.ontology IN {c.param(ontologies)}")
    if not f.args.get("includeObsolete", False):
        filters.append("NOT coalesce(n.obsolete, false)")
    where = (" AND " + " AND ".join(filters)) if filters else ""
    words = lucene_words(text)
    early = [
        f"MATCH (n:TermName) WHERE n.textLower = {q} AND n.kind = 'label'{where} RETURN n, 0 AS tier",
        f"MATCH (n:TermName) WHERE n.textLower = {q} AND n.kind = 'synonym'{where} RETURN n, 1 AS tier",
        f"MATCH (n:TermName) WHERE n.textLower STARTS WITH {q} AND n.kind = 'label'{where} RETURN n, 2 AS tier",
    ]
    late = []
    if words:
        late.append(
            f"CALL db.index.fulltext.queryNodes('term_names', {c.param(words)}, {{limit: 2000}}) "
            f"YIELD node AS n WITH n WHERE true{where} RETURN n, 3 AS tier"
        )
    late.append(f"MATCH (n:TermName) WHERE n.textLower CONTAINS {q}{where} RETURN n, 4 AS tier")
    keyset = ""
    after = f.args.get("after")
    if after is not None:
        from bioimage_hub.graph.query.cursor import decode_cursor

        key = decode_cursor(after)
        if not (isinstance(key, list) and len(key) == 3):
            raise QueryError(f"after: {after!r} is not a searchTerms cursor")
        k = c.param(key)
        keyset = f"WHERE [tier, len, t.id] > {k} "
    term_holder = Field("term", "term", {}, None, [
        g for hit in f.node_selection().children_named("term") for g in hit.children
    ])
    projection = c.project("OntologyTerm", "t", term_holder.for_type("OntologyTerm"))
    # Everything sits inside one COLLECT subquery, so outer variables (the access preamble's
    # `hidden`) stay in scope through its WITH clauses.
    # Autocomplete: the word and substring tiers (the expensive ones for short prefixes) only run
    # when the exact and prefix tiers found fewer terms than the page needs — their hits would
    # all sort after those anyway. With a cursor every tier runs.
    need = c.param(first + 1 if after is None else 2**31)
    cypher = (
        "RETURN {page: COLLECT { "
        "CALL () { " + " UNION ALL ".join(early) + " } "
        "MATCH (n)-[:NAMES]->(t:OntologyTerm) "
        "WITH collect({t: t, n: n, tier: tier}) AS early, count(DISTINCT t) AS found "
        "CALL (found) { WITH found WHERE found < " + need + " "
        "CALL () { " + " UNION ALL ".join(late) + " } "
        "MATCH (n)-[:NAMES]->(t:OntologyTerm) RETURN collect({t: t, n: n, tier: tier}) AS late } "
        "UNWIND early + late AS hit "
        "WITH hit.t AS t, hit.n AS n, hit.tier AS tier ORDER BY tier, size(n.text) "
        "WITH t, collect({tier: tier, text: n.text, scope: n.scope})[0] AS best "
        "WITH t, best, best.tier AS tier, size(coalesce(t.label, t.id)) AS len "
        f"{keyset}"
        f"ORDER BY tier, len, t.id LIMIT {first + 1} "
        "RETURN {__cursor: [tier, len, t.id], matched_text: best.text, rank: tier, "
        f"synonym_scope: best.scope, term: {projection}}} }}, first: {first}}} AS result"
    )
    return Compiled(cypher, c.params)


# --------------------------------------------------------------------------- cross-links


def cross_links(c: Compiler, f: Field) -> Compiled:
    """`crossLinks(id:)` -> that entry (if linked); `crossLinks(resource:)` -> all entries of a resource."""
    from bioimage_hub.xrefs.identifiers import InvalidCrossReference, parse_xref, resource

    dst = c.var()
    where: list[str] = []
    if raw := f.args.get("id"):
        try:
            where.append(f"{dst}.id = {c.param(parse_xref(raw).curie)}")
        except (InvalidCrossReference, ValueError) as exc:
            raise QueryError(f"id: {exc}") from exc
    if name := f.args.get("resource"):
        try:
            where.append(f"{dst}.resource = {c.param(resource(name).prefix)}")
        except (InvalidCrossReference, ValueError, KeyError) as exc:
            raise QueryError(f"resource: unknown resource {name!r}") from exc
    if not where:
        raise QueryError("crossLinks: give `id` or `resource`")
    return compile_root(c, "CrossReference", "connection", [f"({dst}:CrossReference)"], f, dst, False, where)
