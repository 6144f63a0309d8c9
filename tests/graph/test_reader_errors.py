"""The API's reader turns Neo4j's refusals into errors the API maps to clear answers."""

from __future__ import annotations

import pytest

from bioimage_hub.config import Settings
from bioimage_hub.graph.driver import BUSY_MESSAGE, GraphBusy, GraphReader, async_driver


async def test_out_of_transaction_memory_is_graph_busy(settings: Settings) -> None:
    """A read refused for lack of transaction memory (the global cap, here reached by one
    statement on purpose) is `GraphBusy` — a 503 with Retry-After in the API — not a bare 500."""
    driver = async_driver(settings.model_copy(update={"neo4j_retry_time_s": 0.0}))
    try:
        reader = GraphReader(driver, settings.neo4j_database)
        with pytest.raises(GraphBusy) as caught:
            await reader.run("UNWIND range(1, 400000000) AS x RETURN size(collect(toString(x))) AS n")
        assert str(caught.value) == BUSY_MESSAGE
        assert "MemoryPoolOutOfMemoryError" in (caught.value.__cause__.code or "")
        # and the server is fine afterwards
        assert (await reader.run("RETURN 1 AS one")) == [{"one": 1}]
    finally:
        await driver.close()
