// Every node a study owns carries `study`, so per-study counts and deletes are index lookups.
CREATE INDEX dataset_study IF NOT EXISTS FOR (n:Dataset) ON (n.study);
CREATE INDEX plate_study IF NOT EXISTS FOR (n:Plate) ON (n.study);
CREATE INDEX well_study IF NOT EXISTS FOR (n:Well) ON (n.study);
CREATE INDEX phenotype_study IF NOT EXISTS FOR (n:Phenotype) ON (n.study);
