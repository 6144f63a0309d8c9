"""Settings, read from the environment (and a `.env` file) by pydantic-settings.

With no `NEO4J_URI` the hub uses the embedded Neo4j that `bioimage-hub neo4j start` runs on
loopback; set `NEO4J_URI` (e.g. `neo4j://cluster.example.org:7687`) to use any external server.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    neo4j_uri: str | None = Field(default=None, description="External Neo4j; unset = embedded")
    neo4j_user: str = "neo4j"
    neo4j_password: str = "bioimage-hub"
    neo4j_database: str = "neo4j"

    # Embedded Neo4j (only used when neo4j_uri is unset).
    embedded_home: Path = Field(default=PROJECT_ROOT / "var" / "neo4j")
    embedded_bolt_port: int = Field(default=7687, ge=1, le=65535)
    embedded_http_port: int | None = Field(default=None, ge=1, le=65535)
    # A big ontology is written in ONE transaction (hp.obo: ~1.2 GB of transaction state, ~0.5M
    # relationships with their closures), so the JVM heap and the transaction-memory cap leave
    # room for it; the heap is only taken as it is used.
    embedded_heap: str = "3g"
    embedded_tx_memory: str = Field(default="2g", description="embedded: global cap on transaction memory")
    # 512m holds the demo graph; an archive-scale graph (1M images: ~3 GB of store) wants the
    # store in the page cache, or every query pays page faults (docs/benchmarks.md)
    embedded_pagecache: str = Field(
        default="512m", pattern=r"^[0-9]+[kKmMgG]?$", description="embedded: Neo4j page cache size (e.g. 512m, 4g)"
    )

    # Neo4j driver: how long a read waits for an unreachable server before the API answers 503
    neo4j_connection_timeout_s: float = Field(default=5.0, gt=0, description="connect timeout per attempt")
    neo4j_retry_time_s: float = Field(default=5.0, ge=0, description="retry transient failures (server down) this long")

    # GraphQL
    max_page_size: int = Field(default=100, ge=1)
    default_page_size: int = Field(default=20, ge=0)
    max_query_depth: int = Field(default=12, ge=1)
    max_query_cost: int = Field(default=200000, ge=1, description="page size x nested cost, per request")
    query_timeout_s: float = Field(default=15.0, gt=0, description="Neo4j transaction timeout for reads")
    graphiql: bool = True
    max_ontology_upload_bytes: int = Field(default=50_000_000, ge=1, description="loadOntology mutation limit")
    # HTTP: a POST body larger than this is refused with 413 before it is read (loadOntology sends
    # the ontology's text inside the JSON body, so this stays above max_ontology_upload_bytes).
    max_request_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="largest accepted request body")

    # Operations: logs (one line per request) and metrics
    log_format: Literal["json", "text"] = Field(default="json", description="request/app log lines: json or text")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_enabled: bool = Field(default=True, description="serve Prometheus metrics on /metrics")
    shutdown_grace_s: float = Field(default=30.0, ge=0, description="on SIGTERM, wait this long for in-flight requests")
    expose_cypher: bool = Field(default=False, description="return generated Cypher in extensions (debug)")
    fast_completion: bool = Field(
        default=True, description="complete compiled query results in one walk instead of per-field resolvers (api/execution.py)"
    )

    # Submissions: accessions are `<accession_prefix><n>` (S-HUB1, S-HUB2, ...).
    accession_prefix: str = Field(
        default="S-HUB", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,15}[A-Za-z-]$", description="prefix of submission accessions"
    )

    # Pixels (OME-Zarr): local folders, s3:// (S3-compatible, endpoint + credentials), https://
    pixels_root: Path = Field(default=PROJECT_ROOT / "var" / "pixels", description="default local pixel store")
    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("s3_endpoint_url", "aws_endpoint_url_s3", "aws_endpoint_url")
    )
    s3_region: str = Field(default="us-east-1", validation_alias=AliasChoices("s3_region", "aws_region", "aws_default_region"))
    s3_access_key_id: str | None = Field(default=None, validation_alias=AliasChoices("s3_access_key_id", "aws_access_key_id"))
    s3_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("s3_secret_access_key", "aws_secret_access_key")
    )
    s3_session_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("s3_session_token", "aws_session_token"))
    s3_anonymous: bool = Field(default=False, description="public buckets: send unsigned requests")
    pixels_max_region_pixels: int = Field(
        default=3192 * 3192, description="cap on w*h*channels of one region (OMERO's max plane 3192x3192)"
    )
    pixels_thumbnail_cache_size: int = 512
    pixels_remote_concurrency: int = Field(default=64, description="zarr async concurrency for remote stores")
    pixels_store_timeout_s: float = 30.0
    pixels_lookup_ttl_s: float = Field(
        default=5.0, description="cache an image's representation (graph lookup) this long in the pixel routes; 0 = off"
    )

    # Cross-link refresh (`bioimage-hub xrefs refresh`): the metadata APIs, e.g. a mirror or a proxy
    xrefs_emdb_api: str = Field(default="https://www.ebi.ac.uk/emdb/api/entry/{accession}", description="EMDB entry API")
    xrefs_empiar_api: str = Field(default="https://www.ebi.ac.uk/empiar/api/entry/{accession}", description="EMPIAR entry API")
    xrefs_rcsb_api: str = Field(default="https://data.rcsb.org/rest/v1/core/entry/{accession}", description="RCSB PDB Data API")
    xrefs_europepmc_api: str = Field(default="https://www.ebi.ac.uk/europepmc/webservices/rest/search", description="Europe PMC search")
    xrefs_timeout_s: float = Field(default=20.0, gt=0, description="per request to those APIs (connect: at most 5 s)")
    xrefs_retries: int = Field(default=3, ge=0, description="retries of a failed request (timeouts, connection errors, 5xx, 429)")

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"DEFAULT_PAGE_SIZE ({self.default_page_size}) must not exceed MAX_PAGE_SIZE ({self.max_page_size})"
            )
        if self.neo4j_uri is not None and "://" not in self.neo4j_uri:
            raise ValueError(f"NEO4J_URI={self.neo4j_uri!r} must be a URI such as neo4j://host:7687 or bolt://host:7687")
        return self

    @property
    def embedded(self) -> bool:
        return self.neo4j_uri is None

    @property
    def uri(self) -> str:
        return self.neo4j_uri or f"bolt://127.0.0.1:{self.embedded_bolt_port}"


class ConfigError(ValueError):
    """The configuration (environment / .env) is invalid; the message names every bad variable."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the environment variable (upper case), its value and what is wrong."""
    lines = []
    for problem in exc.errors():
        loc = [str(part) for part in problem.get("loc", ()) if str(part)]
        message = problem.get("msg", "invalid")
        if loc:
            name = loc[0].upper()
            value = problem.get("input")
            shown = "" if isinstance(value, dict) or "secret" in name.lower() or "password" in name.lower() else f"={value!r}"
            lines.append(f"{name}{shown}: {message}")
        else:  # a cross-field check; its message names the variables
            lines.append(message.removeprefix("Value error, "))
    return "invalid configuration: " + "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, or `ConfigError` with a message naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
