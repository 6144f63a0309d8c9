"""docker/: the compose file parses, its hub settings are real `Settings` fields with valid values,
and the Neo4j image is the version the tests run embedded. (No Docker engine here to run it.)"""

from __future__ import annotations

import re

import yaml

from bioimage_hub.config import PROJECT_ROOT, Settings
from bioimage_hub.graph.embedded import launcher_neo4j_version

DOCKER = PROJECT_ROOT / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def _env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        for choice in getattr(alias, "choices", []) or []:
            names.add(str(choice).upper())
    return names


def _resolve(value: str) -> str:
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))  # compose default substitution


def test_compose_services_and_images() -> None:
    compose = _compose()
    assert set(compose["services"]) == {"neo4j", "minio", "hub"}
    neo4j_image = compose["services"]["neo4j"]["image"]
    assert neo4j_image.startswith("neo4j:") and launcher_neo4j_version() in neo4j_image
    assert compose["services"]["hub"]["build"]["dockerfile"] == "docker/Dockerfile"
    assert (PROJECT_ROOT / compose["services"]["hub"]["build"]["context"].replace("..", ".")).is_dir()


def test_hub_environment_is_made_of_settings_fields_with_valid_values() -> None:
    env = _compose()["services"]["hub"]["environment"]
    unknown = set(env) - _env_names()
    assert not unknown, f"not Settings fields: {sorted(unknown)}"
    values = {k.lower(): _resolve(v) for k, v in env.items()}
    settings = Settings(_env_file=None, **values)  # validates every value as the hub would at start
    assert settings.neo4j_uri == "neo4j://neo4j:7687" and not settings.embedded
    assert settings.s3_endpoint_url == "http://minio:9000"
    # the credentials the hub uses are the ones Neo4j and MinIO are started with
    neo4j_env = _compose()["services"]["neo4j"]["environment"]
    assert _resolve(neo4j_env["NEO4J_AUTH"]) == f"{settings.neo4j_user}/{settings.neo4j_password}"
    minio_env = _compose()["services"]["minio"]["environment"]
    assert _resolve(minio_env["MINIO_ROOT_USER"]) == settings.s3_access_key_id
    assert _resolve(minio_env["MINIO_ROOT_PASSWORD"]) == settings.s3_secret_access_key.get_secret_value()
    assert int(_compose()["services"]["hub"]["stop_grace_period"].rstrip("s")) > settings.shutdown_grace_s


def test_dockerfile_serves_the_hub_with_a_liveness_check() -> None:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.12", text, re.MULTILINE)
    assert "/healthz" in text and '"bioimage-hub", "serve"' in text
    for path in re.findall(r"^COPY (\S+) ", text, re.MULTILINE):
        assert (PROJECT_ROOT / path).exists(), path
    for name in re.findall(r"^ENV (.+?)(?=^\S)", text, re.MULTILINE | re.DOTALL):
        for key in re.findall(r"([A-Z_]+)=", name):
            assert key in _env_names() | {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR"}, key
