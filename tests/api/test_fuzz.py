"""Schemathesis over every OpenAPI route of a real uvicorn, on SQLite and on PostgreSQL, with an admin key: no
request may get a 5xx. Seeded and bounded by examples per route, never by time: a time budget left 35 of 40 routes
untested on a busy machine. ``triage bench --parts fuzz`` runs it for minutes."""

from __future__ import annotations

import pytest

from evals.fuzz import fuzz_keys, schemathesis_run
from triage.store import Store

SEED = 20261129
EXAMPLES = 5  # per route and phase


@pytest.mark.integration
@pytest.mark.slow
def test_no_route_answers_5xx_to_schemathesis(served, tmp_path):
    store = Store.open(served.store_url)
    try:
        keys = fuzz_keys(store)
    finally:
        store.close()
    routes = sum(len(methods) for methods in served.client.get("/openapi.json").json()["paths"].values())

    result = schemathesis_run(served.base, keys, tmp_path, seed=SEED, max_examples=EXAMPLES)

    assert result["operations"] == routes, result["log"]
    assert result["requests"] >= 3 * routes, result["log"]
    assert result["server_errors"] == 0, result["first_server_error_per_route"]
    assert result["statuses"].get("401", 0) < result["requests"] // 10  # the keys stayed valid throughout
