"""Fixtures: real `vestibule server` processes, the official SDK pointed at them,
and a raw HTTP client whose every response is checked against the official spec."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from workos import WorkOSClient

import harness
from contract import Contract
from fakedns import FakeDns
from smtpsink import SmtpSink

# The SDK falls back to these; a developer's shell must not leak into the tests.
for _var in ("WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_BASE_URL", "WORKOS_REQUEST_TIMEOUT"):
    os.environ.pop(_var, None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        return [
            f"vestibule binary: {harness.vestibule_bin()}",
            f"spec: {harness.spec_path()} (AuthKit operations: {harness.spec_v061_path()})",
        ]
    except RuntimeError as e:
        return [f"setup problem: {e}"]


@pytest.fixture(scope="session", autouse=True)
def dns() -> Iterator[FakeDns]:
    """The DNS server every started `vestibule` verifies domains against."""
    server = FakeDns()
    harness.DNS_RESOLVER = server.addr
    yield server
    harness.DNS_RESOLVER = None
    server.close()


_CONTRACTS: list[Contract] = []


@pytest.fixture(scope="session")
def contract() -> Contract:
    c = Contract(harness.spec_path(), harness.spec_v061_path())
    _CONTRACTS.append(c)
    return c


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name every known v0.61 mismatch the run met (contract.KNOWN_V061_MISMATCHES)."""
    met = sorted({key for c in _CONTRACTS for key, _ in c.tolerated})
    if met:
        terminalreporter.section("responses known not to match the v0.61 document")
        for method, template, status, tag in met:
            terminalreporter.write_line(f"{method} {template} -> {status} {tag}")


def _serve(*args: str) -> Iterator[harness.ServerProcess]:
    server = harness.start_server(*args)
    try:
        yield server
    finally:
        crashed = server.proc.poll()
        code = server.stop()
        if crashed is not None:
            pytest.fail(
                f"vestibule exited by itself with {crashed} while tests ran; "
                f"stderr tail:\n{server.stderr_text()[-4000:]}"
            )
        del code


def _sdk(server: harness.ServerProcess) -> Iterator[WorkOSClient]:
    """The official SDK pointed at `server`, closed at teardown."""
    c = harness.sdk(server)
    yield c
    c.close()


def _api(server: harness.ServerProcess, contract: Contract) -> Iterator[harness.Api]:
    """A raw client of `server` with the dev key, checking every answer against the spec."""
    a = harness.Api(server.base_url, harness.DEV_API_KEY, contract)
    yield a
    a.close()


@pytest.fixture(scope="module")
def server() -> Iterator[harness.ServerProcess]:
    """A fresh `vestibule server --dev` shared by one test module."""
    yield from _serve("--dev")


@pytest.fixture
def fresh_server() -> Iterator[harness.ServerProcess]:
    """A fresh `vestibule server --dev` for one test that needs an empty database."""
    yield from _serve("--dev")


@pytest.fixture
def expiring_client() -> Iterator[WorkOSClient]:
    """A fresh dev server whose domain verification period is zero: a DNS miss fails."""
    for server in _serve("--dev", "--domain-verification-period", "0"):
        yield from _sdk(server)


@pytest.fixture(scope="module")
def client(server: harness.ServerProcess) -> Iterator[WorkOSClient]:
    yield from _sdk(server)


@pytest.fixture
def fresh_client(fresh_server: harness.ServerProcess) -> Iterator[WorkOSClient]:
    yield from _sdk(fresh_server)


@pytest.fixture(scope="module")
def api(server: harness.ServerProcess, contract: Contract) -> Iterator[harness.Api]:
    yield from _api(server, contract)


@pytest.fixture
def fresh_api(fresh_server: harness.ServerProcess, contract: Contract) -> Iterator[harness.Api]:
    yield from _api(fresh_server, contract)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a loopback port; messages land in a queue."""
    sink = SmtpSink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def mail_server(smtp: SmtpSink) -> Iterator[harness.ServerProcess]:
    """A `vestibule server --dev` that sends its mail to the `smtp` sink."""
    yield from _serve("--dev", "--smtp-url", smtp.url)


@pytest.fixture(scope="module")
def mail_client(mail_server: harness.ServerProcess) -> Iterator[WorkOSClient]:
    yield from _sdk(mail_server)


@pytest.fixture(scope="module")
def mail_api(mail_server: harness.ServerProcess, contract: Contract) -> Iterator[harness.Api]:
    yield from _api(mail_server, contract)
