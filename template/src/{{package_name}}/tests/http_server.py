"""A threaded HTTP server on 127.0.0.1 for a test's fake partner system (an SMS gateway, a G2P sender)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCALHOST = "127.0.0.1"


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
