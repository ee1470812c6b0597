"""README.md's Python snippet, run as a newcomer pastes it: against a fresh `--dev` server
(only the port differs). The Node snippet runs in e2e/node/test/readme.test.mjs."""

from __future__ import annotations

import re
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parents[2]


def snippets(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Pointing an SDK at it", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def on_port(code: str, port: int) -> str:
    return code.replace("127.0.0.1:4100", f"127.0.0.1:{port}")


def test_the_python_snippet_runs(fresh_server: harness.ServerProcess, capsys) -> None:
    [code] = snippets("python")
    exec(compile(on_port(code, fresh_server.port), "README.md", "exec"), {})
    org_id, user_id, token = capsys.readouterr().out.split()
    assert org_id.startswith("org_") and user_id.startswith("user_") and token.startswith("eyJ")
