"""A local OAuth2 token endpoint (RFC 6749 section 6) for tests: http.server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse


class TokenEndpoint(http.server.ThreadingHTTPServer):
    """Answers each refresh POST with the next of ``tokens`` (or ``error`` when set)."""

    daemon_threads = True

    def __init__(self, tokens: list[str], *, expires_in: int = 3600,
                 refresh_token: str = "refresh-secret") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tokens = list(tokens)
        self.expires_in = expires_in
        self.refresh_token = refresh_token
        self.requests: list[dict[str, str]] = []
        self.error: tuple[int, dict[str, str]] | None = None
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/token"

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: TokenEndpoint

    def log_message(self, *args: object) -> None:
        """Quiet: tests read ``server.requests`` instead."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        form["content-type"] = self.headers.get("Content-Type", "")
        self.server.requests.append(form)
        if self.server.error is not None:
            status, answer = self.server.error
        elif form.get("refresh_token") != self.server.refresh_token or not self.server.tokens:
            status, answer = 400, {"error": "invalid_grant",
                                   "error_description": "Token has been expired or revoked."}
        else:
            status, answer = 200, {"access_token": self.server.tokens.pop(0),
                                   "expires_in": self.server.expires_in,
                                   "token_type": "Bearer"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
