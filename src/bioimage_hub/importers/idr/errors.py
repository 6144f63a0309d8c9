"""The one exception the IDR reader raises for input it cannot make sense of."""

from __future__ import annotations

from pathlib import Path


class IdrFormatError(ValueError):
    """A study folder, study file, annotation CSV or bulkmap config is malformed.

    `path` is the offending file (or folder), `line` its 1-based line number when known,
    `column` the field / CSV column concerned when known. `str(err)` names all three.
    """

    def __init__(
        self,
        path: Path | str,
        line: int | None,
        message: str,
        *,
        column: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        self.message = message
        where = str(self.path) + (f":{line}" if line is not None else "")
        what = f" [{column}]" if column else ""
        super().__init__(f"{where}{what}: {message}")
