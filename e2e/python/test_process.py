"""The server as a process: startup line, health, independence, graceful shutdown."""

from __future__ import annotations

import httpx

import harness
from harness import sdk, unique


def test_dev_servers_are_independent_and_stop_cleanly() -> None:
    first = harness.start_server("--dev")
    second = harness.start_server("--dev")
    try:
        assert first.port != second.port
        assert first.base_url == f"http://127.0.0.1:{first.port}"
        with sdk(first) as one, sdk(second) as two:
            org = one.organizations.create_organization(name=unique("org"))
            # Two --dev servers share nothing: each has its own in-memory database.
            assert [o.id for o in one.organizations.list_organizations().data] == [org.id]
            assert two.organizations.list_organizations().data == []

        health = httpx.get(f"{first.base_url}/health", timeout=10)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.headers.get("x-request-id")
    finally:
        codes = (first.stop(), second.stop())
    # SIGTERM is a graceful shutdown: exit status 0, not a signal death.
    assert codes == (0, 0), (codes, first.stderr_text()[-2000:], second.stderr_text()[-2000:])


def test_listening_line_is_the_last_startup_line_on_stdout() -> None:
    server = harness.start_server("--dev")
    try:
        assert server.stdout_lines[-1] == f"vestibule listening on {server.base_url}"
        # Logs go to stderr, never to stdout.
        assert all(not line.startswith("{") for line in server.stdout_lines)
    finally:
        code = server.stop()
    # SIGTERM right after the listening line must already be a graceful shutdown
    # (-15 means the handler was installed only after the line was printed).
    assert code == 0, (code, server.stderr_text()[-2000:])
