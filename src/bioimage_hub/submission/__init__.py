"""Study submissions: validation, accessions, versions, the graph write and the one entry point
(`service.submit`) shared by the CLI and the GraphQL mutation."""
