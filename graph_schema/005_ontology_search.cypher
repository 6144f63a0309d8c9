// Ontology term search and upgrades (issue 3).
// One (:TermName)-[:NAMES]->(:OntologyTerm) per label and per synonym of every loaded term;
// id = '<term id>|<kind>|<scope>|<textLower>'.
CREATE CONSTRAINT term_name_id IF NOT EXISTS FOR (n:TermName) REQUIRE n.id IS UNIQUE;
// TEXT index: =, STARTS WITH, ENDS WITH and CONTAINS (trigram) on the lower-cased text.
CREATE TEXT INDEX term_name_text_lower IF NOT EXISTS FOR (n:TermName) ON (n.textLower);
// RANGE index on the same property: STARTS WITH seeks that come back in textLower order.
CREATE INDEX term_name_text_lower_range IF NOT EXISTS FOR (n:TermName) ON (n.textLower);
CREATE INDEX term_name_ontology IF NOT EXISTS FOR (n:TermName) ON (n.ontology);
// Word match (Lucene analyser: lower-cased, tokenised).
CREATE FULLTEXT INDEX term_names IF NOT EXISTS FOR (n:TermName) ON EACH [n.text];
CREATE INDEX term_label_lower IF NOT EXISTS FOR (n:OntologyTerm) ON (n.labelLower);
// The terms an ontology defines (reloads and upgrades read them).
CREATE INDEX term_defined_by IF NOT EXISTS FOR (n:OntologyTerm) ON (n.definedBy);
CREATE CONSTRAINT ontology_upgrade_id IF NOT EXISTS FOR (n:OntologyUpgrade) REQUIRE n.id IS UNIQUE;
CREATE INDEX ontology_upgrade_ontology IF NOT EXISTS FOR (n:OntologyUpgrade) ON (n.ontology);
