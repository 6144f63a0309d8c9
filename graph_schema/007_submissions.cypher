// Submissions (issue 5): versions of submitted studies, API tokens, accession counters.
CREATE CONSTRAINT study_version_id IF NOT EXISTS FOR (n:StudyVersion) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT api_token_id IF NOT EXISTS FOR (n:ApiToken) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT api_token_hash IF NOT EXISTS FOR (n:ApiToken) REQUIRE n.hash IS UNIQUE;
CREATE CONSTRAINT accession_counter_prefix IF NOT EXISTS FOR (n:AccessionCounter) REQUIRE n.prefix IS UNIQUE;
CREATE INDEX study_version_accession IF NOT EXISTS FOR (n:StudyVersion) ON (n.accession);
CREATE INDEX study_version_checksum IF NOT EXISTS FOR (n:StudyVersion) ON (n.checksum);
CREATE INDEX study_owner IF NOT EXISTS FOR (n:Study) ON (n.owner);
