"""Fixtures for the alerting tests: real HTTP receivers on 127.0.0.1 (no mocks) and an ephemeral
Dagster instance."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Receiver:
    """An HTTP server that records every POST (path, JSON body) and answers `status`."""

    url: str
    requests: list[tuple[str, object]] = field(default_factory=list)
    status: int = 200

    def bodies(self, path_suffix: str = "") -> list[object]:
        return [body for path, body in self.requests if path.endswith(path_suffix)]

    def clear(self) -> None:
        self.requests.clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if state.status < 300:
                state.requests.append((self.path, json.loads(raw or b"null")))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):  # keep pytest output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def instance():
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as inst:
        yield inst
