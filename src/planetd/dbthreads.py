"""The store as the reactor sees it: SQLite work on its own threads, results as Deferreds.

Owns the threads SQLite runs on: exactly one writer thread (SQLite allows
one writer; queuing writes in one place avoids ``database is locked``) and a
small pool of reader threads with their own read-only connections (WAL lets
them read while the writer writes). Nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from planetd.boundaries import (
    EntryKey,
    FeedConfig,
    FeedState,
    FeedURL,
    PollOutcome,
    PollRecord,
    ReadsPlanet,
    Stores,
)
from planetd.store import Database, ThreadLocalDatabases, open_database

P = ParamSpec("P")
T = TypeVar("T")


class _NamedOperations:
    """:class:`planetd.boundaries.Stores`'s named operations, over ``write`` and ``read``."""

    def write(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        raise NotImplementedError

    def read(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        raise NotImplementedError

    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> Deferred[None]:
        return self.write(Database.sync_feeds, feeds, now)

    def feed_states(self) -> Deferred[list[FeedState]]:
        return self.read(Database.feed_states)

    def known_hashes(self, url: FeedURL) -> Deferred[dict[EntryKey, str]]:
        return self.read(Database.known_hashes, url)

    def record_poll(
        self, feed: FeedConfig, outcome: PollOutcome, now: datetime
    ) -> Deferred[PollRecord]:
        return self.write(Database.record_poll, feed, outcome, now)

    def reading(self, build: Callable[[ReadsPlanet], T]) -> Deferred[T]:
        return self.read(build)


class Store(_NamedOperations):
    """One writer connection on one thread, read-only connections on a reader pool."""

    def __init__(self, reactor: Any, path: str, *, readers: int = 2) -> None:
        self._reactor = reactor
        self.path = path
        self._writer_pool = ThreadPool(1, 1, name="planetd-writer")
        self._reader_pool = ThreadPool(1, readers, name="planetd-reader")
        self._writer: Database | None = None
        self._readers = ThreadLocalDatabases(path)
        #: Bumped after every write: the web cache compares it to know what is stale.
        self.generation = 0

    def start(self) -> Deferred[None]:
        """Start the threads and open (and migrate) the database on the writer thread."""
        self._writer_pool.start()
        self._reader_pool.start()

        def opened(db: Database) -> None:
            self._writer = db

        return deferToThreadPool(
            self._reactor, self._writer_pool, open_database, self.path
        ).addCallback(opened)

    def stop(self) -> Deferred[None]:
        """Finish queued work, checkpoint and close every connection, stop the threads."""
        # Stopping the reader pool waits for reads in flight (a page build takes
        # well under a second), so no connection is closed under a running query.
        self._reader_pool.stop()
        self._readers.close_all()

        def close_writer() -> None:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

        def stop_writer(result: object) -> object:
            self._writer_pool.stop()
            return result

        d = deferToThreadPool(self._reactor, self._writer_pool, close_writer)
        d.addBoth(stop_writer)
        return d

    def write(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        """Run ``fn(database, ...)`` on the writer thread."""

        def run() -> T:
            assert self._writer is not None, "store not started"
            return fn(self._writer, *args, **kwargs)

        def bump(result: T) -> T:
            self.generation += 1
            return result

        return deferToThreadPool(self._reactor, self._writer_pool, run).addCallback(bump)

    def read(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        """Run ``fn(database, ...)`` on a reader thread with its own connection."""

        def run() -> T:
            return fn(self._readers.get(), *args, **kwargs)

        return deferToThreadPool(self._reactor, self._reader_pool, run)


class InlineStore(_NamedOperations):
    """The :class:`Store` interface over one connection on the calling thread.

    For tests that drive the poller with a deterministic clock
    (``twisted.internet.task.Clock`` has no threads): every call runs at once
    and returns an already-fired Deferred. Never used by the daemon.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.generation = 0

    def write(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        try:
            result = fn(self.db, *args, **kwargs)
        except Exception:
            return fail()
        self.generation += 1
        return succeed(result)

    def read(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Deferred[T]:
        try:
            return succeed(fn(self.db, *args, **kwargs))
        except Exception:
            return fail()


if TYPE_CHECKING:  # static conformance: both shells are the store the others expect
    _threaded: type[Stores] = Store
    _inline: type[Stores] = InlineStore
