// Indexes for every lookup and filter the GraphQL API offers.
CREATE INDEX publication_doi IF NOT EXISTS FOR (n:Publication) ON (n.doi);
CREATE INDEX publication_pmid IF NOT EXISTS FOR (n:Publication) ON (n.pmid);
CREATE INDEX gene_symbol IF NOT EXISTS FOR (n:Gene) ON (n.symbol);
CREATE INDEX gene_symbol_lower IF NOT EXISTS FOR (n:Gene) ON (n.symbolLower);
CREATE INDEX organism_name IF NOT EXISTS FOR (n:Organism) ON (n.name);
CREATE INDEX term_iri IF NOT EXISTS FOR (n:OntologyTerm) ON (n.iri);
CREATE INDEX term_ontology IF NOT EXISTS FOR (n:OntologyTerm) ON (n.ontology);
CREATE INDEX term_label IF NOT EXISTS FOR (n:OntologyTerm) ON (n.label);
CREATE INDEX study_release_date IF NOT EXISTS FOR (n:Study) ON (n.releaseDate);
CREATE INDEX image_study IF NOT EXISTS FOR (n:Image) ON (n.study);
CREATE INDEX reagent_kind IF NOT EXISTS FOR (n:Reagent) ON (n.kind);
