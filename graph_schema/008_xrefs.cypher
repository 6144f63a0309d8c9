// Cross-references to other resources (PDB, EMDB, EMPIAR, IDR, BioStudies, PubMed, ...):
// one node per canonical CURIE, looked up by resource for refreshes and per-resource listings.
CREATE CONSTRAINT cross_reference_id IF NOT EXISTS FOR (n:CrossReference) REQUIRE n.id IS UNIQUE;
CREATE INDEX cross_reference_resource IF NOT EXISTS FOR (n:CrossReference) ON (n.resource);
CREATE INDEX cross_reference_accession IF NOT EXISTS FOR (n:CrossReference) ON (n.accession);
