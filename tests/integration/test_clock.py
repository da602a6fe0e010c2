"""The service in its own uvicorn process and the test read the same clock: run under a shifted clock
(`make test` runs the `clock` tests with libfaketime a year ahead), this fails if the server's clock is not
shifted with the test's, since the window of the gaps is counted back from the server's now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import api_key, uvicorn_server

pytestmark = [pytest.mark.integration, pytest.mark.clock]


def test_the_server_counts_windows_from_the_same_now_as_the_caller(small_kb, tmp_path):
    var = tmp_path / "var"
    url = f"sqlite:///{var}/triage.db"
    bot, agent = api_key(url, "bot"), api_key(url, "agent")
    with uvicorn_server({"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(var)}) as (base, _):
        client = httpx.Client(base_url=base, timeout=60)
        three_days_ago = datetime.now(UTC) - timedelta(days=3)  # by this process's clock
        outcomes = [{"auto_answered": True, "helpful": False, "question": "해외 배송 되나요?"},  # stamped by the server
                    {"auto_answered": True, "helpful": False, "question": "해외로도 보내 주시나요",
                     "created_at": three_days_ago.isoformat()}]
        for outcome in outcomes:
            stored = client.post("/v1/bot/outcomes", json=outcome, headers={"Authorization": f"Bearer {bot}"})
            assert stored.status_code == 201, stored.text

        def questions(days: int) -> int:
            found = client.get("/v1/gaps", params={"days": days}, headers={"Authorization": f"Bearer {agent}"})
            assert found.status_code == 200, found.text
            return found.json()["questions"]

        assert (questions(1), questions(7)) == (1, 2)
