"""Reader of IDR's `*-bulkmap-config.yml` (the OMERO bulk-annotation column map).

Only what the reader needs is kept: each column entry (top-level or inside a `group` with a
`namespace` such as `openmicroscopy.org/mapr/gene`) with its `defaults` applied. Entries that
carry a `clientvalue` (URL templates such as `Gene Identifier URL`) describe derived display
values, not data, and are flagged so the reader can skip them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bioimage_hub.importers.idr.errors import IdrFormatError
from bioimage_hub.importers.idr.text import norm_key, read_text

NS = "openmicroscopy.org/mapr/"


@dataclass(frozen=True)
class BulkColumn:
    name: str
    clientname: str | None
    include: bool
    split: str | None
    namespace: str | None
    derived: bool  # has a clientvalue template

    @property
    def key(self) -> str:
        return norm_key(self.name)

    @property
    def label(self) -> str:
        """The name the column is shown under (clientname, else name)."""
        return self.clientname or self.name

    @property
    def group(self) -> str | None:
        """`gene`, `gene/supplementary`, `organism`, ... for mapr namespaces."""
        if self.namespace and self.namespace.startswith(NS):
            return self.namespace[len(NS) :]
        return self.namespace


@dataclass
class Bulkmap:
    path: Path | None = None
    columns: list[BulkColumn] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return self.path is not None

    def data_columns(self) -> list[BulkColumn]:
        """Included columns that hold data (no clientvalue template)."""
        return [c for c in self.columns if c.include and not c.derived]

    def in_group(self, group: str) -> list[BulkColumn]:
        return [c for c in self.data_columns() if c.group == group]

    def split_for(self, key: str) -> str | None:
        for column in self.columns:
            if column.key == key and column.split:
                return column.split
        return None


def _flag(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"yes", "true", "y", "1", "on"}


def _split(value) -> str | None:
    if value is None or value is False:
        return None
    text = str(value)
    return text or None


def read_bulkmap(path: Path | None) -> Bulkmap:
    if path is None:
        return Bulkmap()
    text, _ = read_text(path)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise IdrFormatError(path, line, f"invalid YAML: {exc}") from exc
    except (ValueError, OverflowError) as exc:  # e.g. `2020-02-30` or a 5,000-digit integer
        raise IdrFormatError(path, None, f"invalid YAML value: {exc}") from None
    except RecursionError:
        raise IdrFormatError(path, None, "invalid YAML: nested too deeply") from None
    if doc is None:
        return Bulkmap(path=path)
    if not isinstance(doc, dict):
        raise IdrFormatError(path, 1, "bulkmap config must be a YAML mapping")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise IdrFormatError(path, None, "'defaults' must be a mapping", column="defaults")
    entries = doc.get("columns") or []
    if not isinstance(entries, list):
        raise IdrFormatError(path, None, "'columns' must be a list", column="columns")

    columns: list[BulkColumn] = []

    def add(entry, namespace: str | None) -> None:
        if not isinstance(entry, dict) or not entry.get("name"):
            raise IdrFormatError(
                path, None, f"column entry without a name: {entry!r}", column="columns"
            )
        spec = {**defaults, **entry}
        columns.append(
            BulkColumn(
                name=str(entry["name"]).strip(),
                clientname=(str(spec["clientname"]).strip() or None)
                if spec.get("clientname")
                else None,
                include=_flag(spec.get("include"), False),
                split=_split(spec.get("split")),
                namespace=namespace,
                derived="clientvalue" in entry,
            )
        )

    for entry in entries:
        if isinstance(entry, dict) and "group" in entry:
            group = entry["group"] or {}
            if not isinstance(group, dict):
                raise IdrFormatError(path, None, f"'group' must be a mapping, not {group!r}", column="columns")
            subs = group.get("columns") or []
            if not isinstance(subs, list):
                raise IdrFormatError(path, None, f"'columns' of group {group.get('namespace')!r} must be a list",
                                     column="columns")
            namespace = group.get("namespace")
            for sub in subs:
                add(sub, str(namespace) if namespace is not None else None)
        else:
            add(entry, None)
    return Bulkmap(path=path, columns=columns)
