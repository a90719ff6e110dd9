#!/usr/bin/env python3
"""A demo app for the forward-auth examples: answers every request with what it received
(method, path, and the X-Tollgate-* headers the proxy set), so `curl` shows what got through.

    python3 examples/forward-auth/upstream.py 3000
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-tollgate-")}
        body = json.dumps({"app": "demo", "method": self.command, "path": self.path, "headers": seen}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = answer

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    ThreadingHTTPServer(("127.0.0.1", port), Echo).serve_forever()
