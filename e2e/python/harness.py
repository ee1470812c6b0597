"""Start and stop real `vestibule` processes for the end-to-end suite.

The server is always bound to port 0; the port is read from the one line the
server prints on stdout once it is listening. No fixed ports, no sleeps.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import re
import selectors
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
from workos import WorkOSClient

from contract import Contract

REPO_ROOT = Path(__file__).resolve().parents[2]

DEV_API_KEY = "sk_test_default"
DEV_CLIENT_ID = "client_test_default"

LISTENING_RE = re.compile(r"^vestibule listening on (http://127\.0\.0\.1:(\d+))\s*$")
INITIAL_KEY_RE = re.compile(r"^initial API key:\s*(sk_\S+)\s*$")
CLIENT_ID_RE = re.compile(r"^client id:\s*(client_\S+)\s*$")

# Set by the suite (conftest) to the fake DNS server every started server uses
# for domain verification; None leaves the server on the system resolver.
DNS_RESOLVER: Optional[str] = None

# Server stderr logs of this run; removed when the test process exits.
LOG_DIR = Path(tempfile.mkdtemp(prefix="vestibule-e2e-logs-"))
atexit.register(shutil.rmtree, LOG_DIR, ignore_errors=True)

# Generous: a debug build on a loaded 2-core CI machine, running migrations.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def vestibule_bin() -> Path:
    """The server binary: $VESTIBULE_BIN, else target/debug/vestibule of this repo."""
    path = Path(os.environ.get("VESTIBULE_BIN") or REPO_ROOT / "target" / "debug" / "vestibule")
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"vestibule binary not found at {path}: run `cargo build --bin vestibule` "
            "or set VESTIBULE_BIN"
        )
    return path


def spec_path() -> Path:
    """The official WorkOS OpenAPI document: $VESTIBULE_SPEC, else ../shared/spec beside the repo."""
    path = Path(
        os.environ.get("VESTIBULE_SPEC")
        or REPO_ROOT.parent / "shared" / "spec" / "workos-openapi.yaml"
    )
    if not path.is_file():
        raise RuntimeError(f"WorkOS OpenAPI spec not found at {path}: set VESTIBULE_SPEC")
    return path


def spec_v061_path() -> Path:
    """The v0.61 WorkOS OpenAPI document, which the AuthKit operations are checked against:
    $VESTIBULE_SPEC_V061, else workos-openapi-v0.61.yaml beside the 0.1.0 document."""
    path = Path(
        os.environ.get("VESTIBULE_SPEC_V061")
        or spec_path().parent / "workos-openapi-v0.61.yaml"
    )
    if not path.is_file():
        raise RuntimeError(f"WorkOS OpenAPI v0.61 spec not found at {path}: set VESTIBULE_SPEC_V061")
    return path


@dataclass
class ServerProcess:
    """One running `vestibule server`; stop() it when done."""

    proc: subprocess.Popen
    base_url: str
    port: int
    stderr_path: Path
    stdout_lines: List[str] = field(default_factory=list)
    initial_api_key: Optional[str] = None
    initial_client_id: Optional[str] = None
    _drain: Optional[threading.Thread] = None

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> Optional[int]:
        """SIGTERM, wait, then SIGKILL if it would not stop. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        if self._drain is not None:
            self._drain.join(timeout=STOP_TIMEOUT_S)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def _read_startup(proc: subprocess.Popen, stderr_path: Path) -> Dict[str, Any]:
    """Read stdout lines until the listening line; bounded by START_TIMEOUT_S."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    lines: List[str] = []
    found: Dict[str, Any] = {"lines": lines}
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    fd = proc.stdout.fileno()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"vestibule did not print its listening line within {START_TIMEOUT_S}s; "
                    f"stdout so far: {lines!r}; stderr:\n{stderr_path.read_text(errors='replace')}"
                )
            if not sel.select(timeout=remaining):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                proc.wait(timeout=STOP_TIMEOUT_S)
                raise RuntimeError(
                    f"vestibule exited with {proc.returncode} before listening; "
                    f"stdout: {lines!r}; stderr:\n{stderr_path.read_text(errors='replace')}"
                )
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                lines.append(line)
                if m := INITIAL_KEY_RE.match(line):
                    found["initial_api_key"] = m.group(1)
                elif m := CLIENT_ID_RE.match(line):
                    found["initial_client_id"] = m.group(1)
                elif m := LISTENING_RE.match(line):
                    found["base_url"] = m.group(1)
                    found["port"] = int(m.group(2))
                    found["rest"] = buf
                    return found
    finally:
        sel.close()


def start_server(*args: str, env: Optional[Dict[str, str]] = None) -> ServerProcess:
    """Run `vestibule server ARGS --addr 127.0.0.1:0` and wait for its listening line."""
    stderr_file = tempfile.NamedTemporaryFile(
        dir=LOG_DIR, prefix="server-", suffix=".log", delete=False
    )
    stderr_path = Path(stderr_file.name)
    cmd = [str(vestibule_bin()), "server", *args, "--addr", "127.0.0.1:0"]
    if DNS_RESOLVER and "--dns-resolver" not in args:
        cmd += ["--dns-resolver", DNS_RESOLVER]
    proc_env = dict(os.environ)
    proc_env.setdefault("RUST_BACKTRACE", "1")
    if env:
        proc_env.update(env)
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        env=proc_env,
    )
    stderr_file.close()
    try:
        found = _read_startup(proc, stderr_path)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        raise
    server = ServerProcess(
        proc=proc,
        base_url=found["base_url"],
        port=found["port"],
        stderr_path=stderr_path,
        stdout_lines=list(found["lines"]),
        initial_api_key=found.get("initial_api_key"),
        initial_client_id=found.get("initial_client_id"),
    )

    # Keep draining stdout so the server can never block on a full pipe.
    def drain(rest: bytes = found["rest"]) -> None:
        data = rest
        try:
            while chunk := os.read(proc.stdout.fileno(), 4096):  # type: ignore[union-attr]
                data += chunk
        except (OSError, ValueError):
            pass
        server.stdout_lines.extend(data.decode("utf-8", "replace").splitlines())

    server._drain = threading.Thread(target=drain, daemon=True)
    server._drain.start()
    return server


def start_dev_server() -> ServerProcess:
    return start_server("--dev")


def sqlite_url(db_path: Path) -> str:
    return f"sqlite://{db_path}"


def admin(database_url: str, *args: str) -> Dict[str, Any]:
    """Run `vestibule admin --database URL ARGS` and parse its JSON stdout."""
    stdout = admin_raw(database_url, *args)
    try:
        return json.loads(stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"vestibule admin {' '.join(args)} printed non-JSON: {stdout!r}") from e


def admin_raw(database_url: str, *args: str) -> str:
    """Run `vestibule admin --database URL ARGS`; returns stdout, raises on failure."""
    cmd = [str(vestibule_bin()), "admin", "--database", database_url, *args]
    result = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {result.returncode}\nstdout: {result.stdout}\n"
            f"stderr: {result.stderr}"
        )
    return result.stdout


def sdk(server: ServerProcess, api_key: str = DEV_API_KEY,
        client_id: str = DEV_CLIENT_ID) -> WorkOSClient:
    # max_retries=0: a 5xx must fail the test at once, not after backoff, and
    # SDK retries must not hide a server error.
    return WorkOSClient(
        api_key=api_key, client_id=client_id, base_url=server.base_url, max_retries=0
    )


class Api:
    """Raw HTTP against the server; every response is checked by the contract."""

    def __init__(self, base_url: str, api_key: Optional[str], contract: Contract) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30.0)
        self.contract = contract
        self.seen: set[tuple[str, str, int]] = set()

    def request(self, method: str, path: str, *, strict_errors: bool = True,
                **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        self.contract.check(response, strict_errors=strict_errors)
        op = self.contract.operation(method, response.request.url.raw_path.decode().split("?")[0])
        if op is not None:
            self.seen.add((op.method.upper(), op.template, response.status_code))
        return response

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self.http.close()


def unique(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_domain() -> str:
    # .test is reserved (RFC 2606): it can never resolve to someone's real zone.
    return f"{uuid.uuid4().hex[:12]}.vestibule-e2e.test"


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def missing_id(prefix: str) -> str:
    """A well-formed id (prefix + ULID of now) that no server has minted."""
    ms = int(time.time() * 1000)
    head = ""
    for _ in range(10):
        head = CROCKFORD[ms % 32] + head
        ms //= 32
    tail = "".join(CROCKFORD[b % 32] for b in os.urandom(16))
    return f"{prefix}_{head}{tail}"
