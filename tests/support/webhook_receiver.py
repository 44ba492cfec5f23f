"""An agency's webhook endpoint for the e2e tests: a stdlib HTTP server that checks our signature with nothing but
``hmac`` (as an agency would, without our code), keeps each signed record by its event id, and can fail its first
calls to show the sender's retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SignedReceiver:
    """``received`` maps X-Microcred-Event-Id to the record; ``bad_signatures`` counts refused bodies; ``calls``
    every POST. Port 0 picks a free one; a test that subscribes before the receiver is up names its own."""

    def __init__(self, secret: str, *, port: int = 0, failures: int = 0) -> None:
        self.secret, self.failures = secret.encode(), failures
        self.received: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls <= receiver.failures:
                    self.send_response(503)
                    self.end_headers()
                    return
                fields = dict(part.split("=", 1) for part in self.headers["X-Microcred-Signature"].split(","))
                expected = hmac.new(receiver.secret, fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, fields["v1"]):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.received[self.headers["X-Microcred-Event-Id"]] = json.loads(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet: the test's output is the assertions'."""

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/microcred"

    def __enter__(self) -> SignedReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
