"""A feed server for tests: twisted.web serving a folder on 127.0.0.1.

Run as a script (``python feedserver.py DIR``) it prints ``PORT <n>`` once it
listens, serves until it is terminated, and answers ``ETag`` and
``Last-Modified`` like a well-behaved static server; ``/hang`` never answers. Tests start it as a
subprocess so that the daemon under test, also a subprocess, polls a real
socket.
"""

from __future__ import annotations

import hashlib
import os
import sys

from twisted.internet import reactor
from twisted.web import resource, server, static

ACCESS_LOG = os.environ.get("FEEDSERVER_LOG")


def log_access(request, status: int) -> None:  # type: ignore[no-untyped-def]
    """Append ``status path`` to $FEEDSERVER_LOG, so tests can count what was downloaded."""
    if ACCESS_LOG:
        with open(ACCESS_LOG, "a") as f:
            f.write(f"{status} {request.path.decode()}\n")


class ValidatingFile(static.File):
    """``static.File`` plus a content ETag and ``If-None-Match`` handling."""

    def render_GET(self, request):  # type: ignore[no-untyped-def]
        path = self.path
        if os.path.isfile(path):
            with open(path, "rb") as f:
                etag = '"' + hashlib.sha1(f.read()).hexdigest() + '"'
            request.setHeader(b"etag", etag.encode())
            if request.getHeader(b"if-none-match") == etag.encode():
                request.setResponseCode(304)
                log_access(request, 304)
                return b""
            log_access(request, 200)
        return super().render_GET(request)


class Hang(resource.Resource):
    """Accepts the request and never answers: a feed host that hangs."""

    isLeaf = True

    def render_GET(self, request):  # type: ignore[no-untyped-def]
        return server.NOT_DONE_YET


class Slow(resource.Resource):
    """``/slow/NAME`` answers as ``/NAME`` would (ETag, 304), late: a poll that
    takes a while (two seconds), so a test can stop a daemon in the middle of one."""

    isLeaf = True
    delay = 2.0

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def render_GET(self, request):  # type: ignore[no-untyped-def]
        name = os.path.basename(request.path.decode())
        with open(os.path.join(self.folder, name), "rb") as f:
            data = f.read()
        etag = ('"' + hashlib.sha1(data).hexdigest() + '"').encode()
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def answer() -> None:
            if gone:
                return
            request.setHeader(b"etag", etag)
            if request.getHeader(b"if-none-match") == etag:
                request.setResponseCode(304)
                log_access(request, 304)
            else:
                request.setHeader(b"content-type", b"application/atom+xml")
                request.write(data)
                log_access(request, 200)
            request.finish()

        reactor.callLater(self.delay, answer)  # type: ignore[attr-defined]
        return server.NOT_DONE_YET


def main(folder: str) -> None:
    root: resource.Resource = ValidatingFile(folder)
    root.putChild(b"hang", Hang())
    root.putChild(b"slow", Slow(folder))
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")  # type: ignore[attr-defined]
    sys.stdout.write(f"PORT {port.getHost().port}\n")
    sys.stdout.flush()
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv[1])
