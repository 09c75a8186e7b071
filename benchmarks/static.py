"""The static server the benchmark feeds are served by, on 127.0.0.1, two ways.

Owns starting and stopping the server. One server process listens on two
ports over the same folder:

* the **validating** port answers with ``ETag`` and ``Last-Modified`` and turns
  ``If-None-Match``/``If-Modified-Since`` into ``304 Not Modified``;
* the **plain** port sends neither validator and ignores conditional headers,
  like the many servers that re-send every body in full.

Each response's status goes to a log (one line each: ``PORT STATUS``), so a run
can count the bodies it was sent and the ``304 Not Modified`` answers it got
(:meth:`StaticServer.mark` before, :meth:`StaticServer.statuses` after): the
peers that report no count of their own (newsboat) are counted the same way.

Debian's nginx is used when it is installed (``apt-get install -y nginx-light``
provides it): it runs in the foreground (``daemon off``, ``master_process
off``) with its own config, logs and temp paths in a temp folder, so it never
touches the system's nginx. Without nginx a Twisted static server in a child
process (``python benchmarks/static.py twisted ROOT PORT1 PORT2``) does the same
job, more slowly; the results say which one served.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format status '$server_port $status';
    access_log {tmp}/access.log status;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    server_tokens off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{
        application/atom+xml atom;
        application/rss+xml rss;
        application/xml xml;
    }}
    default_type application/octet-stream;
    # Validating: ETag and Last-Modified, and 304 for a matching conditional GET.
    server {{
        listen 127.0.0.1:{validating};
        root {root};
        etag on;
        if_modified_since exact;
    }}
    # Plain: no ETag, no Last-Modified (an empty add_header clears it), no 304.
    server {{
        listen 127.0.0.1:{plain};
        root {root};
        etag off;
        if_modified_since off;
        add_header Last-Modified "";
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"static server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"static server not listening on {port} after {timeout:g}s")


class StaticServer:
    """Serves ``root`` on two ports (validating and plain); a context manager."""

    def __init__(
        self, root: str | Path, *, kind: str = "auto", ports: tuple[int, int] | None = None
    ) -> None:
        self.root = str(Path(root).resolve())
        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
        )
        if kind == "auto":
            kind = "nginx" if nginx else "twisted"
        self.kind = kind
        self._nginx = nginx
        # Ports a caller asks for (so feed URLs stay the same from run to run), if free.
        if ports is not None and all(_is_free(p) for p in ports):
            self.validating, self.plain = ports
        else:
            self.validating, self.plain = free_port(), free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.access_log: Path | None = None

    def url(self, path: str, *, validators: bool = True) -> str:
        port = self.validating if validators else self.plain
        return f"http://127.0.0.1:{port}/{path.lstrip('/')}"

    def version(self) -> str:
        if self.kind == "nginx" and self._nginx:
            out = subprocess.run([self._nginx, "-v"], capture_output=True, text=True, timeout=10)
            return (out.stderr or out.stdout).strip().replace("nginx version: ", "")
        import twisted

        return f"twisted.web static.File (Twisted {twisted.__version__})"

    def start(self) -> StaticServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="planetd-bench-static-")
        tmp = self._tmp.name
        self.access_log = Path(tmp) / "access.log"
        self.access_log.touch()
        if self.kind == "nginx":
            assert self._nginx is not None
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(
                _NGINX_CONF.format(
                    tmp=tmp, root=self.root, validating=self.validating, plain=self.plain
                )
            )
            command = [self._nginx, "-p", tmp, "-c", str(conf), "-e", f"{tmp}/error.log"]
        else:
            command = [
                sys.executable,
                os.path.abspath(__file__),
                "twisted",
                self.root,
                str(self.validating),
                str(self.plain),
                str(self.access_log),
            ]
        with open(Path(tmp) / "stderr.log", "wb") as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            _wait_listening(self.validating, self.process)
            _wait_listening(self.plain, self.process)
        except Exception:
            self.stop()
            raise
        return self

    def mark(self) -> int:
        """Where the status log ends now: pass it to :meth:`statuses` after a run."""
        return self.access_log.stat().st_size if self.access_log else 0

    def statuses(self, since: int) -> dict[int, int]:
        """How many responses of each status were sent since ``mark``.

        The server logs a request once it has sent the response, so a client can
        see its last answer a moment before the line is written: wait that moment.
        """
        if self.access_log is None:
            return {}
        time.sleep(0.05)
        counts: dict[int, int] = {}
        with open(self.access_log, "rb") as f:
            f.seek(since)
            for line in f.read().splitlines():
                status = line.rsplit(b" ", 1)[-1]
                if status.isdigit():
                    counts[int(status)] = counts.get(int(status), 0) + 1
        return counts

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> StaticServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _twisted_main(root: str, validating: int, plain: int, log_path: str) -> None:
    """The fallback: ``static.File`` plus an ETag on one port; no validators on the other."""
    from twisted.internet import reactor
    from twisted.web import server, static

    class Validating(static.File):
        def render_GET(self, request):  # type: ignore[no-untyped-def]
            if os.path.isfile(self.path):
                st = os.stat(self.path)
                etag = f'"{int(st.st_mtime):x}-{st.st_size:x}"'.encode()
                request.setHeader(b"etag", etag)
                if request.getHeader(b"if-none-match") == etag:
                    request.setResponseCode(304)
                    return b""
            return super().render_GET(request)

    class Plain(static.File):
        def render_GET(self, request):  # type: ignore[no-untyped-def]
            request.requestHeaders.removeHeader(b"if-modified-since")
            request.requestHeaders.removeHeader(b"if-none-match")
            body = super().render_GET(request)
            request.lastModified = None  # http.Request adds the header at the first write
            request.responseHeaders.removeHeader(b"last-modified")
            return body

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 (open while the reactor runs)

    class StatusLog(server.Site):
        def log(self, request):  # type: ignore[no-untyped-def]
            log.write(f"{request.getHost().port} {request.code}\n")

    types = {".atom": "application/atom+xml", ".rss": "application/rss+xml"}
    for cls, port in ((Validating, validating), (Plain, plain)):
        resource = cls(root)
        resource.contentTypes.update(types)
        reactor.listenTCP(port, StatusLog(resource), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "twisted":
        _twisted_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.stderr.write("usage: static.py twisted ROOT VALIDATING_PORT PLAIN_PORT LOG\n")
        sys.exit(2)
