"""HTTP caching for rendered outputs: validators, conditional requests, gzip, headers.

Owns how one rendered :class:`planetd.boundaries.Output` becomes bytes on
the wire: its content ``ETag`` (gzip gets its own), ``Last-Modified`` kept
while the bytes are unchanged, ``304`` for ``If-None-Match`` and
``If-Modified-Since``, gzip when the client accepts it, the
``Cache-Control`` each kind of output gets, and the security headers of
HTML pages. Decides nothing about what a page says; must not import the
store, the site or Klein.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING

import attrs

from planetd.boundaries import Output

if TYPE_CHECKING:
    from twisted.web.iweb import IRequest

#: Script only from planetd itself (the live river's file), never inline; it may open
#: ``/events`` and fetch fragments from the same origin, nothing else.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src http: https: data:; "
    "media-src http: https:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_GZIP_MIN = 512

#: Pages and feeds may be cached a minute; the API's fixed documents revalidate every time.
PUBLIC = "public, max-age=60"
REVALIDATE = "no-cache"
#: The stylesheet changes only with the templates.
STYLESHEET = "public, max-age=3600"
#: A feed's face changes only when the operator replaces the file (and restarts).
FACE = "public, max-age=86400"


def fixed_cache_control(path: str) -> str:
    """``Cache-Control`` of an output rebuilt with every store change (an API path revalidates)."""
    return REVALIDATE if path.startswith("/api/") else PUBLIC


@attrs.frozen
class Cached:
    """An output ready to serve: both encodings, validators and headers."""

    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str
    last_modified: datetime
    cache_control: str


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def prepare(output: Output, now: datetime, previous: Cached | None, cache_control: str) -> Cached:
    """Compress and tag an output; unchanged bytes keep their ``Last-Modified``."""
    etag = _etag(output.body)
    if previous is not None and previous.etag == etag:
        return previous
    gzipped = gzip.compress(output.body, 6, mtime=0) if len(output.body) >= _GZIP_MIN else None
    return Cached(
        body=output.body,
        gzipped=gzipped,
        content_type=output.content_type,
        etag=etag,
        last_modified=now.replace(microsecond=0),
        cache_control=cache_control,
    )


def _accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = re.search(r"q\s*=\s*([0-9.]+)", params)
            return not (q and float(q.group(1) or 0) == 0)
    return False


def _header(request: IRequest, name: bytes) -> str | None:
    value = request.getHeader(name)
    if value is None:
        return None
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _not_modified(request: IRequest, etags: tuple[str, ...], last_modified: datetime) -> bool:
    if_none_match = _header(request, b"if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        offered = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return any(t in offered for t in etags)
    since = _header(request, b"if-modified-since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return last_modified <= when
    return False


def serve(request: IRequest, cached: Cached) -> bytes:
    """Write ``cached`` to ``request`` with validators, 304 and gzip as the request allows."""
    use_gzip = cached.gzipped is not None and _accepts_gzip(_header(request, b"accept-encoding"))
    etag = cached.etag[:-1] + '-gz"' if use_gzip else cached.etag
    request.setHeader(b"content-type", cached.content_type.encode())
    request.setHeader(b"etag", etag.encode())
    request.setHeader(b"last-modified", format_datetime(cached.last_modified, usegmt=True).encode())
    request.setHeader(b"cache-control", cached.cache_control.encode())
    request.setHeader(b"x-content-type-options", b"nosniff")
    if cached.gzipped is not None:
        request.setHeader(b"vary", b"Accept-Encoding")
    if cached.content_type.startswith("text/html"):
        request.setHeader(b"content-security-policy", CSP.encode())
        request.setHeader(b"referrer-policy", b"strict-origin-when-cross-origin")
        request.setHeader(b"x-frame-options", b"DENY")
    if _not_modified(request, (cached.etag, cached.etag[:-1] + '-gz"'), cached.last_modified):
        request.setResponseCode(304)
        return b""
    if use_gzip:
        assert cached.gzipped is not None
        request.setHeader(b"content-encoding", b"gzip")
        return cached.gzipped
    return cached.body


def query_arg(request: IRequest, name: str) -> str | None:
    """The last value of the query or form argument ``name``, decoded, or None."""
    values = request.args.get(name.encode()) if request.args else None
    if not values:
        return None
    value = values[-1]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def bad_request(request: IRequest, message: str, code: int = 400) -> bytes:
    """A JSON error, never a traceback."""
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps({"error": message}).encode()
