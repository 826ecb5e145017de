"""A real local HTTP receiver for webhook tests: can be down, fail, then come up."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    # A local plain-http receiver is reachable only through the documented development
    # settings: http allowed, and 127.0.0.1 on the outbound allow-list.
    SETTINGS = {"outbound_allow_http": True, "outbound_allow": "127.0.0.1"}

    def __init__(self, port: int, fail_first: int = 0) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.fail_first = fail_first  # answer 500 to this many requests before accepting
        self.requests: list[tuple[dict[str, str], bytes, int]] = []  # headers, body, status answered
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    status = 500 if receiver.fail_first > 0 else 204
                    receiver.fail_first -= status == 500
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
