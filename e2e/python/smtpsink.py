"""A real SMTP server (aiosmtpd) on a loopback port chosen by the kernel.

Every message the server under test sends lands in a queue; tests take them
with a bounded wait (`sink.next(timeout)`), never a sleep.
"""

from __future__ import annotations

import email
import email.policy
import queue
from dataclasses import dataclass
from typing import Any, List

from aiosmtpd.controller import Controller


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: List[str]
    subject: str
    body: str
    raw: bytes


class _Handler:
    def __init__(self, inbox: "queue.Queue[Mail]") -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html")) if msg.is_multipart() else msg
        body = part.get_content() if part is not None else ""
        self.inbox.put(Mail(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            subject=str(msg.get("Subject", "")),
            body=body,
            raw=raw,
        ))
        return "250 OK"


class _PortZeroController(Controller):
    """Controller bound to port 0: the real port is read from the listening socket."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    def __init__(self) -> None:
        self.inbox: "queue.Queue[Mail]" = queue.Queue()
        self._controller = _PortZeroController(_Handler(self.inbox), hostname="127.0.0.1", port=0)
        self._controller.start()
        self.port: int = self._controller.port
        self.url = f"smtp://127.0.0.1:{self.port}"

    def next(self, timeout: float = 10.0) -> Mail:
        """The next message received; fails the test if none arrives in `timeout` s."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no mail reached the SMTP sink within {timeout}s") from None

    def next_to(self, address: str, timeout: float = 10.0) -> Mail:
        """The next message for `address` (others received meanwhile are dropped)."""
        while True:
            mail = self.next(timeout)
            if address.lower() in (r.lower() for r in mail.rcpt_tos):
                return mail

    def assert_empty(self) -> None:
        assert self.inbox.empty(), f"unexpected mail: {self.inbox.get_nowait()!r}"

    def close(self) -> None:
        self._controller.stop()
