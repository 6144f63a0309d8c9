"""Per-request context: the graph reader and the log of Cypher statements this request ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bioimage_hub.config import Settings
from bioimage_hub.graph.driver import GraphReader, StatementLog
from bioimage_hub.graph.query.access import Viewer


@dataclass
class Context:
    reader: GraphReader
    settings: Settings
    log: StatementLog = field(default_factory=StatementLog)
    viewer: Viewer = field(default_factory=Viewer.anonymous)
    principal: Any = None
    cost: int = 0
    request: Any = None
    response: Any = None

    async def run(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        from bioimage_hub.graph.driver import current_log

        token = current_log.set(self.log)
        try:
            return await self.reader.run(query, params)
        finally:
            current_log.reset(token)
