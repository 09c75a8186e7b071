"""The floor for planetd's web numbers: a minimal twisted.web resource serving the same bytes.

It GETs each path once from a running planetd (``/`` and ``/api/entries`` by
default), then serves those exact bytes from memory with the same content
type: no routing framework, no validators, no cache lookups. Whatever planetd
adds on top (Klein routing, the cache check, ETag/Last-Modified, security
headers) is the difference between the two in the same run.

Usage: ``python benchmarks/minimal_web.py http://127.0.0.1:PORT PORT [PATH ...]``;
prints ``PORT <n>`` once listening and serves until terminated.
"""

from __future__ import annotations

import sys
import urllib.request

from twisted.internet import reactor
from twisted.web import resource, server


class Bytes(resource.Resource):
    """One body, always the same."""

    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes) -> None:
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request):  # type: ignore[no-untyped-def]
        request.setHeader(b"content-type", self.content_type)
        return self.body


class Paths(resource.Resource):
    """Exact paths to bodies (``/`` included, which ``putChild`` cannot express)."""

    isLeaf = True

    def __init__(self, bodies: dict[bytes, Bytes]) -> None:
        super().__init__()
        self.bodies = bodies

    def render_GET(self, request):  # type: ignore[no-untyped-def]
        found = self.bodies.get(request.path)
        if found is None:
            request.setResponseCode(404)
            return b"not found\n"
        return found.render_GET(request)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        sys.stderr.write("usage: minimal_web.py SOURCE_URL PORT [PATH ...]\n")
        return 2
    source, port = argv[1].rstrip("/"), int(argv[2])
    paths = argv[3:] or ["/", "/api/entries"]
    bodies: dict[bytes, Bytes] = {}
    for path in paths:
        with urllib.request.urlopen(source + path, timeout=30) as response:
            bodies[path.encode()] = Bytes(
                response.read(), response.headers.get("content-type", "text/html").encode()
            )
    listening = reactor.listenTCP(port, server.Site(Paths(bodies)), interface="127.0.0.1")  # type: ignore[attr-defined]
    sys.stdout.write(f"PORT {listening.getHost().port}\n")
    for path, body in bodies.items():
        sys.stdout.write(f"BYTES {path.decode()} {len(body.body)}\n")
    sys.stdout.flush()
    reactor.run()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
