"""Reading a ``file:`` feed, in a worker thread, as a :class:`FetchResult`.

Owns local feeds: the path a ``file:`` URL names (through the resolver the
fetcher was given, relative to the config file in the daemon), the size cap,
and a synthetic ETag from size and modification time, so that an unchanged
file answers ``NOT_MODIFIED`` without being read. A missing, unreadable or
oversized file ends as ``FAILED`` with the path in the message, never as an
exception.

The read blocks, so it runs on a thread pool, never on the reactor thread;
the fetcher hands it over with :func:`fetch_file`. Must not import treq,
feedparser, the store or the web layer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, cast

from twisted.internet.threads import deferToThreadPool

from planetd.boundaries import FetchKind, FetchResult, Validators
from planetd.fetcherrors import too_large

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IReactorFromThreads
    from twisted.python.threadpool import ThreadPool

    from planetd.boundaries import FetchReactor

__all__ = ["fetch_file", "read_file"]


def fetch_file(
    reactor: FetchReactor,
    threadpool: ThreadPool,
    url: str,
    resolve: Callable[[str], str],
    validators: Validators,
    max_bytes: int,
) -> Deferred[FetchResult]:
    """Read ``url`` by :func:`read_file` on ``threadpool``; the result fires on the reactor."""
    # deferToThreadPool only calls callFromThread, which FetchReactor names.
    from_threads = cast("IReactorFromThreads", reactor)
    return deferToThreadPool(
        from_threads, threadpool, read_file, url, resolve, validators, max_bytes
    )


def read_file(
    url: str, resolve: Callable[[str], str], validators: Validators, max_bytes: int
) -> FetchResult:
    """Read a ``file:`` feed (in a worker thread): blocking, but never raising for the file."""

    def failed(error: str) -> FetchResult:
        return FetchResult(kind=FetchKind.FAILED, error=error, final_url=url)

    try:
        path = resolve(url)
    except ValueError as e:
        return failed(str(e))
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
            last_modified = formatdate(stat.st_mtime, usegmt=True)
            if validators.etag == etag:
                return FetchResult(
                    kind=FetchKind.NOT_MODIFIED, validators=validators, final_url=url
                )
            if stat.st_size > max_bytes:
                return failed(str(too_large(max_bytes)))
            body = f.read(max_bytes + 1)
    except FileNotFoundError:
        return failed(f"no such file: {path}")
    except IsADirectoryError:
        return failed(f"is a directory: {path}")
    except PermissionError:
        return failed(f"permission denied: {path}")
    except OSError as e:
        return failed(f"cannot read {path}: {e.strerror or e}")
    if len(body) > max_bytes:
        return failed(str(too_large(max_bytes)))
    if not body:
        return failed("empty file")
    return FetchResult(
        kind=FetchKind.OK,
        body=body,
        validators=Validators(
            etag=etag, last_modified=last_modified, body_hash=hashlib.sha256(body).hexdigest()
        ),
        final_url=url,
    )
