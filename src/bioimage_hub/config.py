"""Settings, read from the environment (and a `.env` file) by pydantic-settings.

With no `NEO4J_URI` the hub uses the embedded Neo4j that `bioimage-hub neo4j start` runs on
loopback; set `NEO4J_URI` (e.g. `neo4j://cluster.example.org:7687`) to use any external server.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
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
    embedded_bolt_port: int = 7687
    embedded_http_port: int | None = None
    # A big ontology is written in ONE transaction (hp.obo: ~1.2 GB of transaction state, ~0.5M
    # relationships with their closures), so the JVM heap and the transaction-memory cap leave
    # room for it; the heap is only taken as it is used.
    embedded_heap: str = "3g"
    embedded_tx_memory: str = Field(default="2g", description="embedded: global cap on transaction memory")

    # GraphQL
    max_page_size: int = 100
    default_page_size: int = 20
    max_query_depth: int = 12
    max_query_cost: int = Field(default=200000, description="page size x nested cost, per request")
    query_timeout_s: float = Field(default=15.0, description="Neo4j transaction timeout for reads")
    graphiql: bool = True
    max_ontology_upload_bytes: int = Field(default=50_000_000, description="loadOntology mutation limit")
    expose_cypher: bool = Field(default=False, description="return generated Cypher in extensions (debug)")

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

    @property
    def embedded(self) -> bool:
        return self.neo4j_uri is None

    @property
    def uri(self) -> str:
        return self.neo4j_uri or f"bolt://127.0.0.1:{self.embedded_bolt_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
