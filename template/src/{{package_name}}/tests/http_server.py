"""A threaded HTTP server on 127.0.0.1 for a test's fake partner system (an SMS gateway, a G2P sender, a registry)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOCALHOST = "127.0.0.1"


class JsonHandler(BaseHTTPRequestHandler):
    """A partner system's handler: reads and answers JSON, on kept-alive connections, with no access log."""

    protocol_version = "HTTP/1.1"  # keeps connections alive, as a real partner system does
    disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers["Content-Length"]))

    def send_json(self, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test reads what its partner system received, not its access log."""


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """`handler` served on a free port of 127.0.0.1 until the block ends (`server.server_port` names it)."""
    server = ThreadingHTTPServer((LOCALHOST, 0), handler)
    # shutdown() waits for serve_forever's next poll: at the default 0.5 s every test using a server
    # spent half a second in teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
