"""schema.graphql in the repository is the schema the server serves."""

from bioimage_hub.api.schema import SCHEMA_FILE, schema


def test_exported_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "schema.graphql is stale: run `bioimage-hub export-schema`"
    )
