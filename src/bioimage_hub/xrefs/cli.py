"""`bioimage-hub xrefs ...`: refresh cached metadata of cross-references, link and unlink them.

Mounted on the main CLI by `bioimage_hub.cli` (`app.add_typer(xrefs_app, name="xrefs")`); uses
its conventions: exit 0 success, 1 failed operation, 2 bad input; `--json` on stdout, progress
on stderr.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from bioimage_hub.cli import Failure, JsonOpt, _driver, emit, err, failures, out, progress_bar
from bioimage_hub.config import get_settings
from bioimage_hub.xrefs.graph import SubjectNotFound, link, unlink
from bioimage_hub.xrefs.identifiers import InvalidCrossReference
from bioimage_hub.xrefs.refresh import (
    DEFAULT_HOPS,
    DEFAULT_MAX_AGE_DAYS,
    RESOURCE_GROUPS,
    RefreshResult,
    refresh,
    resolve_resources,
)

xrefs_app = typer.Typer(
    help="Cross-references to PDB, EMDB, EMPIAR, IDR, BioStudies, PubMed, ...: link, refresh.",
    no_args_is_help=True,
)


@xrefs_app.command("refresh")
def refresh_cmd(
    resource: Annotated[
        list[str] | None,
        typer.Option("--resource", "-r", help=f"Only these resources ({', '.join(RESOURCE_GROUPS)}); repeatable."),
    ] = None,
    max_age: Annotated[
        float, typer.Option("--max-age", help="Refetch entries fetched more than DAYS ago (0: all).", min=0)
    ] = DEFAULT_MAX_AGE_DAYS,
    hops: Annotated[
        int, typer.Option("--hops", help="Fetch entries up to N RELATED_TO hops from a linked one.", min=0, max=5)
    ] = DEFAULT_HOPS,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Requests in flight at once.", min=1, max=64)] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Fetch metadata (title, method, resolution, journal, ...) of linked entries and cache it.

    Failures keep the cached metadata (the attempt is recorded in fetchError/attemptedAt)."""
    from bioimage_hub.xrefs.clients import ClientSettings

    settings = get_settings()
    client_settings = ClientSettings.from_settings(settings, concurrency=concurrency)
    with failures():
        try:
            resources = resolve_resources(resource)
        except (InvalidCrossReference, ValueError) as exc:
            raise Failure(str(exc), 2) from exc
        with _driver(settings) as driver, progress_bar() as bar:
            task = bar.add_task("xrefs refresh", total=None)

            def on_progress(event: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=f"xrefs {event}"[:60])

            result = asyncio.run(
                refresh(
                    driver,
                    settings.neo4j_database,
                    resources=resources,
                    max_age_days=max_age,
                    hops=hops,
                    settings=client_settings,
                    progress=on_progress,
                )
            )
    data = result.as_dict()
    if as_json:
        emit(data, True)
        _exit_on_failures(result)
        return
    table = Table(title="Cross-reference refresh")
    for col in ("resource", "fetched", "not found", "failed"):
        table.add_column(col)
    for res in sorted(set(result.fetched) | set(result.not_found) | set(result.failed)):
        table.add_row(res, str(result.fetched[res]), str(result.not_found[res]), str(result.failed[res]))
    out.print(table)
    out.print(f"{result.attempted} entries in {result.rounds} round(s), {result.discovered} links written, "
              f"{result.requests} HTTP requests ({result.retries} retries) in {data['seconds']} s")
    for e in result.errors[:10]:
        err.print(f"[yellow]{e['status']}[/yellow] {e['id']}: {e['error']}")
    _exit_on_failures(result)


def _exit_on_failures(result: RefreshResult) -> None:
    """Exit 1 when entries could not be refreshed, naming the upstreams that were down."""
    failed = sum(result.failed.values())
    if not failed:
        return
    down = "; ".join(f"{upstream} unavailable ({n} entries)" for upstream, n in sorted(result.unavailable.items()))
    err.print(f"[red]error:[/red] {failed} entries not refreshed (cached metadata kept)" + (f": {down}" if down else ""),
              highlight=False)
    raise typer.Exit(1)


@xrefs_app.command("link")
def link_cmd(
    subject_id: Annotated[str, typer.Argument(help="Study accession, dataset id or image id.")],
    xref: Annotated[str, typer.Argument(help="CURIE (emdb:EMD-1234), accession (EMPIAR-10028) or URL.")],
    source: Annotated[str, typer.Option("--source", help="Who asserts the link.")] = "curator",
    as_json: JsonOpt = False,
) -> None:
    """Link a study, dataset or image to a cross-reference (validated; idempotent)."""
    settings = get_settings()
    with failures():
        try:
            with _driver(settings) as driver:
                label, x = link(driver, settings.neo4j_database, subject_id, xref, source=source)
        except (InvalidCrossReference, SubjectNotFound) as exc:
            raise Failure(str(exc), 2) from exc
    data = {"subject": subject_id, "label": label, "crossReference": x.curie, "url": x.url, "source": source}
    if as_json:
        emit(data, True)
    else:
        out.print(f"{label} {subject_id} -[:LINKS_TO {{source: {source}}}]-> {x.curie}  ({x.url})")


@xrefs_app.command("unlink")
def unlink_cmd(
    subject_id: Annotated[str, typer.Argument(help="Study accession, dataset id or image id.")],
    xref: Annotated[str, typer.Argument(help="CURIE, accession or URL.")],
    source: Annotated[str | None, typer.Option("--source", help="Only this source's link (default: all).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a subject's link to a cross-reference (the cross-reference and its cache stay)."""
    settings = get_settings()
    with failures():
        try:
            with _driver(settings) as driver:
                removed = unlink(driver, settings.neo4j_database, subject_id, xref, source=source)
        except (InvalidCrossReference, SubjectNotFound) as exc:
            raise Failure(str(exc), 2) from exc
    if as_json:
        emit({"subject": subject_id, "removed": removed}, True)
    else:
        out.print(f"removed {removed} link(s)")
