"""Static file server of the web UI image: files of --root, index.html for any other GET
(client-side routes), /healthz for probes. Standard library only; writes nothing to disk."""

from __future__ import annotations

import argparse
import http.server
import os
from functools import partial
from pathlib import Path


class SpaHandler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if not Path(self.translate_path(self.path)).exists():
            self.path = "/index.html"
        super().do_GET()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404, "Not found")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="serve")
    parser.add_argument("--root", default="/app/dist")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's server
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    handler = partial(SpaHandler, directory=args.root)
    with http.server.ThreadingHTTPServer((args.host, args.port), handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
