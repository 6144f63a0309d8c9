"""`python -m bioimage_hub ...` — the same as the `bioimage-hub` command."""

from bioimage_hub.cli import app

app()
