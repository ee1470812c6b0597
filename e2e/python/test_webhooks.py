"""Webhooks with the official Python SDK: endpoint CRUD, and deliveries that the SDK's
own `verify_event` accepts, received by a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import queue
import threading
from typing import Iterator, List, Tuple

import pytest
from workos import WorkOSClient
from workos._errors import ConflictError, UnprocessableEntityError

from harness import unique


class Receiver:
    """An HTTP server on 127.0.0.1:0 that records POSTs and answers scripted statuses."""

    def __init__(self, script: List[int]) -> None:
        self.script = list(script)
        self.received: "queue.Queue[Tuple[bytes, str, int]]" = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = outer.script.pop(0) if outer.script else 200
                outer.received.put((body, self.headers.get("WorkOS-Signature", ""), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout: float = 5.0) -> Tuple[bytes, str, int]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


@pytest.fixture
def flaky_receiver() -> Iterator[Receiver]:
    r = Receiver([500, 500, 500])
    yield r
    r.close()


def test_delivery_is_accepted_by_the_sdk_verifier(fresh_client: WorkOSClient, receiver: Receiver) -> None:
    client = fresh_client
    endpoint = client.webhooks.create_webhook_endpoint(endpoint_url=receiver.url, events=["organization.created"])
    assert endpoint.id.startswith("we_") and endpoint.secret
    org = client.organizations.create_organization(name=unique("org"))
    body, signature, status = receiver.next(timeout=2.0)
    assert status == 200
    event = client.webhooks.verify_event(event_body=body, event_signature=signature, secret=endpoint.secret)
    assert event.event == "organization.created"
    assert event.data.id == org.id
    with pytest.raises(ValueError):
        client.webhooks.verify_event(event_body=body, event_signature=signature, secret="whsec_wrong")
    with pytest.raises(ValueError):
        client.webhooks.verify_event(event_body=body + b" ", event_signature=signature, secret=endpoint.secret)


def test_failing_receiver_gets_one_more_delivery_after_backoff(fresh_client: WorkOSClient, flaky_receiver: Receiver) -> None:
    client = fresh_client
    endpoint = client.webhooks.create_webhook_endpoint(endpoint_url=flaky_receiver.url, events=["organization.created"])
    org = client.organizations.create_organization(name=unique("org"))
    statuses = [flaky_receiver.next(timeout=10.0)[2] for _ in range(4)]
    assert statuses == [500, 500, 500, 200]
    with pytest.raises(queue.Empty):
        flaky_receiver.received.get(timeout=1.0)  # bounded: nothing more arrives once delivered
    del endpoint, org


def test_endpoint_crud_and_refusals(fresh_client: WorkOSClient, receiver: Receiver) -> None:
    client = fresh_client
    created = client.webhooks.create_webhook_endpoint(endpoint_url=receiver.url, events=["user.created"])
    with pytest.raises(ConflictError):
        client.webhooks.create_webhook_endpoint(endpoint_url=receiver.url, events=["user.created"])
    for url in ["http://169.254.169.254/latest/meta-data", "http://no-such-host.invalid/hook", "ftp://example.com/x"]:
        with pytest.raises(UnprocessableEntityError):
            client.webhooks.create_webhook_endpoint(endpoint_url=url, events=["user.created"])
    listed = client.webhooks.list_webhook_endpoints()
    assert [e.id for e in listed.data] == [created.id]
    updated = client.webhooks.update_webhook_endpoint(created.id, status="disabled")
    assert getattr(updated.status, "value", updated.status) == "disabled"
    client.webhooks.delete_webhook_endpoint(created.id)
    assert client.webhooks.list_webhook_endpoints().data == []
