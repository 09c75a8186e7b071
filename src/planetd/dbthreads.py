"""The store as the reactor sees it: SQLite work on its own threads, results as Deferreds.

Owns the threads SQLite runs on: exactly one writer thread (SQLite allows
one writer; queuing writes in one place avoids ``database is locked``) and a
small pool of reader threads with their own read-only connections (WAL lets
them read while the writer writes). :class:`Store` and :class:`InlineStore`
(the same operations on the calling thread, for tests with a deterministic
clock) are both :class:`planetd.boundaries.Stores`: the named operations are
written once, in :class:`_NamedOperations`, over each shell's ``_write`` and
``_read``. Nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from planetd.boundaries import (
    EntryKey,
    FeedConfig,
    FeedState,
    FeedURL,
    PollOutcome,
    PollRecord,
    Preview,
    ReadingListState,
    ReadsAllPlanets,
    ReadsPlanet,
    Stores,
    StoresReadingLists,
    StoresSubmissions,
    StoresSubscriptions,
    Submission,
    SubmissionForm,
    SubmissionState,
    Subscription,
)
from planetd.store import Database, ThreadLocalDatabases, open_database

T = TypeVar("T")


class _RunsDatabaseWork(Protocol):
    """What the named operations need of a shell: run work on the writer or a reader.

    ``_write`` moves ``generation`` once the work is done.
    """

    def _write(self, work: Callable[[Database], T]) -> Deferred[T]: ...

    def _read(self, work: Callable[[Database], T]) -> Deferred[T]: ...


class _NamedOperations:
    """:class:`planetd.boundaries.Stores`'s named operations, once for both shells.

    A mixin: ``self`` is any shell that runs database work
    (:class:`_RunsDatabaseWork`), so mypy checks each shell provides it.
    """

    def sync_feeds(
        self: _RunsDatabaseWork, feeds: Sequence[FeedConfig], now: datetime
    ) -> Deferred[None]:
        return self._write(lambda db: db.sync_feeds(feeds, now))

    def feed_states(self: _RunsDatabaseWork) -> Deferred[list[FeedState]]:
        return self._read(lambda db: db.feed_states())

    def known_hashes(self: _RunsDatabaseWork, url: FeedURL) -> Deferred[dict[EntryKey, str]]:
        return self._read(lambda db: db.known_hashes(url))

    def record_poll(
        self: _RunsDatabaseWork, feed: FeedConfig, outcome: PollOutcome, now: datetime
    ) -> Deferred[PollRecord]:
        return self._write(lambda db: db.record_poll(feed, outcome, now))

    def reading(self: _RunsDatabaseWork, build: Callable[[ReadsPlanet], T]) -> Deferred[T]:
        return self._read(build)

    def reading_all(self: _RunsDatabaseWork, build: Callable[[ReadsAllPlanets], T]) -> Deferred[T]:
        return self._read(build)

    def reading_lists(self: _RunsDatabaseWork) -> Deferred[list[ReadingListState]]:
        return self._read(lambda db: db.reading_lists())

    def save_reading_list(self: _RunsDatabaseWork, state: ReadingListState) -> Deferred[None]:
        return self._write(lambda db: db.save_reading_list(state))

    # The queue of suggested feeds (StoresSubmissions).

    def add_submission(
        self: _RunsDatabaseWork, form: SubmissionForm, preview: Preview, now: datetime, cap: int
    ) -> Deferred[Submission]:
        return self._write(lambda db: db.submission_queue().add(form, preview, now, cap))

    def find_submission(self: _RunsDatabaseWork, url: str) -> Deferred[Submission | None]:
        return self._read(lambda db: db.submission_queue().find(url))

    def submission(self: _RunsDatabaseWork, sid: int) -> Deferred[Submission | None]:
        return self._read(lambda db: db.submission_queue().get(sid))

    def submissions(
        self: _RunsDatabaseWork, state: SubmissionState | None
    ) -> Deferred[list[Submission]]:
        return self._read(lambda db: db.submission_queue().all(state))

    def pending_count(self: _RunsDatabaseWork) -> Deferred[int]:
        return self._read(lambda db: db.submission_queue().pending())

    def decide_submission(
        self: _RunsDatabaseWork,
        sid: int,
        state: SubmissionState,
        reason: str | None,
        now: datetime,
    ) -> Deferred[Submission | None]:
        return self._write(lambda db: db.submission_queue().decide(sid, state, reason, now))

    def subscriptions(self: _RunsDatabaseWork) -> Deferred[list[Subscription]]:
        return self._read(lambda db: db.subscriptions())

    def save_subscription(self: _RunsDatabaseWork, subscription: Subscription) -> Deferred[None]:
        return self._write(lambda db: db.save_subscription(subscription))

    def forget_subscription(self: _RunsDatabaseWork, feed_url: FeedURL) -> Deferred[None]:
        return self._write(lambda db: db.forget_subscription(feed_url))


class Store(_NamedOperations):
    """One writer connection on one thread, read-only connections on a reader pool."""

    def __init__(self, reactor: IReactorFromThreads, path: str, *, readers: int = 2) -> None:
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

    def _write(self, work: Callable[[Database], T]) -> Deferred[T]:
        """Run ``work(database)`` on the writer thread."""

        def run() -> T:
            assert self._writer is not None, "store not started"
            return work(self._writer)

        def bump(result: T) -> T:
            self.generation += 1
            return result

        return deferToThreadPool(self._reactor, self._writer_pool, run).addCallback(bump)

    def _read(self, work: Callable[[Database], T]) -> Deferred[T]:
        """Run ``work(database)`` on a reader thread with its own connection."""
        return deferToThreadPool(
            self._reactor, self._reader_pool, lambda: work(self._readers.get())
        )


class InlineStore(_NamedOperations):
    """The :class:`Store` operations over one connection on the calling thread.

    For tests that drive the poller with a deterministic clock
    (``twisted.internet.task.Clock`` has no threads): every call runs at once
    and returns an already-fired Deferred. Never used by the daemon.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.generation = 0

    def _write(self, work: Callable[[Database], T]) -> Deferred[T]:
        try:
            result = work(self.db)
        except Exception:
            return fail()
        self.generation += 1
        return succeed(result)

    def _read(self, work: Callable[[Database], T]) -> Deferred[T]:
        try:
            return succeed(work(self.db))
        except Exception:
            return fail()


if TYPE_CHECKING:  # static conformance: both shells are the store the others expect,
    # and both run database work the way the named operations need.
    _threaded: type[Stores] = Store
    _threaded_lists: type[StoresReadingLists] = Store
    _threaded_submissions: type[StoresSubmissions] = Store
    _inline_submissions: type[StoresSubmissions] = InlineStore
    _inline: type[Stores] = InlineStore
    _threaded_subs: type[StoresSubscriptions] = Store
    _inline_subs: type[StoresSubscriptions] = InlineStore
    _threaded_runs: type[_RunsDatabaseWork] = Store
    _inline_runs: type[_RunsDatabaseWork] = InlineStore
