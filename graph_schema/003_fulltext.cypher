// Full-text index for search across studies, genes and ontology terms.
CREATE FULLTEXT INDEX hub_search IF NOT EXISTS
FOR (n:Study|Gene|OntologyTerm|Phenotype)
ON EACH [n.title, n.description, n.symbol, n.label, n.name, n.synonymTexts];
