"""BioImage Hub: a GraphQL metadata hub over a Neo4j graph of bioimaging studies."""
__version__ = "0.1.0"
