"""The PostgreSQL store as the reactor sees it: pooled connections on threads, and leases.

Owns the threads and the connection pool of a ``postgresql://`` store, as
:mod:`planetd.dbthreads` owns SQLite's: a few writer threads (PostgreSQL
locks rows, not the database, and each write mostly waits on the network)
and a small reader pool, each piece of work run on a connection borrowed
from one ``psycopg_pool.ConnectionPool``. A connection that broke (the
server restarted) fails the work it was lent for, as any failed write does
(the poller retries it), and the pool replaces it: a restarted server costs
the work in flight at most, never the daemon. :class:`PgStore` is a
:class:`planetd.boundaries.Stores` through the same named operations as
SQLite's :class:`planetd.dbthreads.Store`, and a
:class:`planetd.boundaries.ClaimsFeeds`: this node's leases, named by
:attr:`PgStore.node`, last ``lease_timeout`` seconds.

Several daemons share the database, so ``generation`` (what the output
cache compares) is this node's own writes plus the shared counter every
node's writes move, read every :data:`WATCH_INTERVAL` seconds and taken one
reading late (a sequence moves before its transaction commits; one interval
later that transaction has committed, so a page built for the new value
shows its change): another node's change reaches this node's pages within
two intervals, plus a page build.
Nothing here decides anything.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from planetd.boundaries import Claim, FeedConfig, FeedURL, PollOutcome, PollRecord
from planetd.dbthreads import _NamedOperations
from planetd.pgstore import PgDatabase, open_pg_database

if TYPE_CHECKING:
    from planetd.boundaries import ClaimsFeeds, IDaemonReactor, Stores, StoresReadingLists
    from planetd.store import Database

T = TypeVar("T")

#: Seconds between two reads of the shared change counter.
WATCH_INTERVAL = 0.5
#: Seconds a piece of work waits for a connection (the server may be restarting).
CONNECT_WAIT = 10.0

log = Logger()


def node_name() -> str:
    """This daemon's name in the leases it holds: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _host(url: str) -> str:
    try:
        return "" if url.startswith("file:") else (urlsplit(url).hostname or "")
    except ValueError:
        return ""


class PgStore(_NamedOperations):
    """Pooled PostgreSQL connections on a writer thread and a reader pool; this node's leases.

    Args:
        reactor: Runs the threads and the watch of the shared counter.
        url: The ``postgresql://`` database.
        lease_timeout: Seconds a claim of a feed lasts if its poll is never stored.
        per_host: Polls of one host in flight across every node.
        readers: Reader threads.
        writers: Writer threads (PostgreSQL takes row locks: polls of different feeds
            are stored side by side; each waits on the network, not on the others).
    """

    def __init__(
        self,
        reactor: IDaemonReactor,
        url: str,
        *,
        lease_timeout: float = 120.0,
        per_host: int = 2,
        readers: int = 2,
        writers: int = 4,
    ) -> None:
        from psycopg_pool import ConnectionPool

        self._reactor = reactor
        self.path = url
        self.node = node_name()
        self.lease_timeout = lease_timeout
        self.per_host = per_host
        self._writer_pool = ThreadPool(1, writers, name="planetd-pg-writer")
        self._reader_pool = ThreadPool(1, readers, name="planetd-pg-reader")
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=readers + writers + 1,
            open=False,
            kwargs={"autocommit": True},
            name="planetd",
        )
        self._watch = LoopingCall(self._watch_generation)
        self._watch.clock = reactor
        self._local = 0
        self._shared = 0
        self._last_read = 0

    @property
    def generation(self) -> int:
        """This node's writes plus every node's changes as last read: moves on either."""
        return self._local + self._shared

    def start(self) -> Deferred[None]:
        """Start the threads, migrate the database on the writer thread, watch the counter."""
        self._writer_pool.start()
        self._reader_pool.start()

        def open_and_migrate() -> int:
            self._pool.open(wait=True, timeout=CONNECT_WAIT)
            with self._pool.connection(timeout=CONNECT_WAIT) as conn:
                return open_pg_database(self.path, conn=conn).generation()

        def opened(shared: int) -> None:
            self._shared = self._last_read = shared
            self._watch.start(WATCH_INTERVAL, now=False)

        return deferToThreadPool(self._reactor, self._writer_pool, open_and_migrate).addCallback(
            opened
        )

    def stop(self) -> Deferred[None]:
        """Stop watching, finish queued work, close the pool, stop the threads."""
        if self._watch.running:
            self._watch.stop()
        self._reader_pool.stop()

        def close() -> None:
            self._pool.close()

        def stop_writer(result: object) -> object:
            self._writer_pool.stop()
            return result

        return deferToThreadPool(self._reactor, self._writer_pool, close).addBoth(stop_writer)

    def _run(self, work: Callable[[PgDatabase], T]) -> T:
        with self._pool.connection(timeout=CONNECT_WAIT) as conn:
            return work(PgDatabase(self.path, conn=conn))

    def _write(self, work: Callable[[Database], T]) -> Deferred[T]:
        """Run ``work(database)`` on the writer thread, on a pooled connection."""

        def bump(result: T) -> T:
            self._local += 1
            return result

        return deferToThreadPool(self._reactor, self._writer_pool, self._run, work).addCallback(
            bump
        )

    def _read(self, work: Callable[[Database], T]) -> Deferred[T]:
        """Run ``work(database)`` on a reader thread, on a pooled connection."""
        return deferToThreadPool(self._reactor, self._reader_pool, self._run, work)

    def _watch_generation(self) -> Deferred[None]:
        def seen(shared: int) -> None:
            self._shared = max(self._shared, self._last_read)
            self._last_read = shared

        def failed(failure: Any) -> None:  # the server may be restarting: the next tick retries
            log.debug("reading the change counter failed: {f}", f=failure.getErrorMessage())

        d = deferToThreadPool(self._reactor, self._reader_pool, self._run, _generation)
        return d.addCallbacks(seen, failed)

    # -- several daemons ---------------------------------------------------------------

    def claim(self, url: FeedURL) -> Deferred[Claim]:
        """Ask to poll ``url`` now: its stored state if it is this node's to poll."""
        now = self._reactor.seconds()
        host = _host(url)
        return deferToThreadPool(
            self._reactor,
            self._writer_pool,
            self._run,
            lambda db: db.claim(url, self.node, now, self.lease_timeout, host, self.per_host),
        )

    def record_poll(
        self, feed: FeedConfig, outcome: PollOutcome, now: datetime
    ) -> Deferred[PollRecord]:
        """Store the poll and end this node's lease of the feed, in one transaction."""
        return self._write(lambda db: _as_pg(db).record_claimed_poll(feed, outcome, now, self.node))


def _generation(db: PgDatabase) -> int:
    return db.generation()


def _as_pg(db: Database) -> PgDatabase:
    assert isinstance(db, PgDatabase)
    return db


if TYPE_CHECKING:  # static conformance: the store the others expect, and leases
    _stores: type[Stores] = PgStore
    _lists: type[StoresReadingLists] = PgStore
    _claims: type[ClaimsFeeds] = PgStore
