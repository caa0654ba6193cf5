"""Faults injected for real, for `drill --cause` and the root-cause tests: an S3 endpoint on loopback
that answers as a broken object store does.

    full       writes (PUT/POST/DELETE) get `507 InsufficientStorage` (what S3 and MinIO answer when
               the disk or quota is exhausted, `XMinioStorageFull`); reads are forwarded to the real
               store behind it, so the newest report stays readable while nothing new can be written;
    forbidden  every request gets `403 AccessDenied`, as when a key expired or lost its policy;
    down       nothing listens: the server is closed and its port refuses connections.

The client (boto3, the platform's own store) talks plain S3 over HTTP to it; nothing is mocked in
the process. Bound to 127.0.0.1; `stop()` (or leaving the `with` block) closes it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FULL = "full"
FORBIDDEN = "forbidden"
DOWN = "down"
MODES = (FULL, FORBIDDEN, DOWN)

_ERRORS = {
    FULL: (
        507,
        "InsufficientStorage",
        "Insufficient storage: the object store has no space left for this write.",
    ),
    FORBIDDEN: (403, "AccessDenied", "Access Denied: the credentials presented are no longer valid."),
}


def _s3_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>finance-recon-fault</RequestId></Error>"
    ).encode()


class FaultyS3:
    """`FaultyS3(mode, upstream=None)`; `.endpoint` is the URL to give the store as its S3 endpoint."""

    def __init__(self, mode: str, upstream: str | None = None):
        if mode not in MODES:
            raise ValueError(f"fault mode {mode!r}: expected one of {', '.join(MODES)}")
        self.mode = mode
        self.upstream = upstream.rstrip("/") if upstream else None
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) answered
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None
        if mode == DOWN:
            self._server.server_close()  # the port is taken from the OS, then refused
        else:
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="faulty-s3")
            self._thread.start()

    def _handler(self):
        fault = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                write = self.command in ("PUT", "POST", "DELETE")
                if fault.mode == FORBIDDEN or (fault.mode == FULL and (write or fault.upstream is None)):
                    status, code, message = _ERRORS[fault.mode]
                    self._send(status, _s3_error(code, message), {"Content-Type": "application/xml"})
                else:
                    self._forward(body)

            def _forward(self, body: bytes) -> None:
                import requests

                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                try:
                    response = requests.request(
                        self.command, fault.upstream + self.path, headers=headers, data=body, timeout=30
                    )
                except requests.RequestException:
                    self._send(502, _s3_error("BadGateway", "upstream store unreachable"), {})
                    return
                keep = {
                    k: v
                    for k, v in response.headers.items()
                    if k.lower()
                    not in ("content-length", "transfer-encoding", "connection", "content-encoding")
                }
                length = int(response.headers.get("Content-Length", 0)) if self.command == "HEAD" else None
                self._send(response.status_code, response.content, keep, length)

            def _send(
                self, status: int, body: bytes, headers: dict[str, str], length: int | None = None
            ) -> None:
                fault.requests.append((self.command, self.path, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer  # noqa: N815 (http.server naming)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FaultyS3:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
