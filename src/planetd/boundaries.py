"""The seams between planetd's parts, and the values that cross them.

Reading this module should explain the architecture. The values (in
:mod:`planetd.values`, re-exported here so that every part imports them from
one place): configuration becomes a :class:`PlanetConfig`; the fetcher turns a
:class:`FeedConfig` plus stored :class:`Validators` into a :class:`FetchResult`;
a parse worker turns the body into a :class:`ParsedFeed`; the store keeps
:class:`FeedState` and :class:`StoredEntry` rows.

The seams are Protocols: what the poller needs of a fetcher
(:class:`Fetches`) and a parse pool (:class:`Parses`), what every shell needs
of the store (:class:`Stores`, named operations returning Deferreds), what a
page build reads synchronously on a reader thread (:class:`ReadsPlanet`), what
the daemon's parts report for ``/metrics`` (:class:`Metrics`), and the
reactor interfaces the shells use (:class:`FetchReactor`, ``IDaemonReactor``).
Shells depend on these, never on each other's classes.

This module holds no logic and imports nothing heavy at run time (no Twisted,
no feedparser): Twisted's types appear only under ``TYPE_CHECKING``, so the
plugin and the pure core both import it freely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from planetd.values import (
    EntryID,
    EntryKey,
    FeedConfig,
    FeedState,
    FeedStatus,
    FeedURL,
    FetchKind,
    FetchResult,
    FutureDates,
    Hidden,
    Judge,
    ListedFeed,
    Output,
    ParsedEntry,
    ParsedFeed,
    PlanetConfig,
    PollOutcome,
    PollRecord,
    PollReport,
    ReadingList,
    ReadingListState,
    SearchHit,
    SearchQuery,
    SearchResults,
    SearchTooSlowError,
    StoredEntry,
    Validators,
)

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.internet.interfaces import IConnector, IDelayedCall, IHostnameResolver
    from twisted.internet.protocol import ClientFactory
    from twisted.python.threadpool import ThreadPool

T = TypeVar("T")

__all__ = [
    "EntryID",
    "EntryKey",
    "FeedConfig",
    "FeedState",
    "FeedStatus",
    "FeedURL",
    "FetchKind",
    "FetchReactor",
    "FetchResult",
    "Fetches",
    "FutureDates",
    "Hidden",
    "Judge",
    "ListedFeed",
    "Metrics",
    "Output",
    "ParsedEntry",
    "ParsedFeed",
    "Parses",
    "PlanetConfig",
    "PollOutcome",
    "PollRecord",
    "PollReport",
    "ReadingList",
    "ReadingListState",
    "ReadsPlanet",
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "SearchTooSlowError",
    "StoredEntry",
    "Stores",
    "StoresReadingLists",
    "Validators",
]


# -- the seams -------------------------------------------------------------------------


class Fetches(Protocol):
    """What the poller needs of a fetcher: one conditional GET, ending as data."""

    def fetch(
        self, url: str, validators: Validators, *, timeout: float, max_bytes: int
    ) -> Deferred[FetchResult]: ...


class Parses(Protocol):
    """What the poller needs of a parse pool: a body in, a :class:`ParsedFeed` out."""

    def parse(
        self, body: bytes, url: str, content_type: str | None, known: dict[EntryKey, str]
    ) -> Deferred[ParsedFeed]: ...


class ReadsPlanet(Protocol):
    """The synchronous reads a page build makes (on a reader thread, or the CLI's own)."""

    def feed_states(self, *, active_only: bool = True) -> list[FeedState]: ...

    def entries(
        self,
        *,
        limit: int,
        before: tuple[float, str] | None = None,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
    ) -> list[StoredEntry]: ...

    def hidden_counts(self) -> dict[FeedURL, dict[str, int]]: ...

    def search(
        self,
        query: SearchQuery,
        *,
        limit: int,
        offset: int = 0,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
    ) -> SearchResults:
        """One page of ``query``'s results (see :class:`SearchResults`); may raise
        :class:`SearchTooSlowError`."""


class Stores(Protocol):
    """The store as every shell uses it: named operations, results as Deferreds.

    ``generation`` moves after every write, so a cache can tell what is stale.
    """

    @property
    def generation(self) -> int: ...

    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> Deferred[None]: ...

    def feed_states(self) -> Deferred[list[FeedState]]: ...

    def known_hashes(self, url: FeedURL) -> Deferred[dict[EntryKey, str]]: ...

    def record_poll(
        self, feed: FeedConfig, outcome: PollOutcome, now: datetime
    ) -> Deferred[PollRecord]: ...

    def reading(self, build: Callable[[ReadsPlanet], T]) -> Deferred[T]: ...


# -- the fetcher's reactor -------------------------------------------------------------


class FetchReactor(Protocol):
    """What the fetcher needs of its reactor, and nothing more.

    The clock (``seconds``, ``callLater``) times the total limit of a fetch;
    ``getThreadPool`` and ``callFromThread`` read ``file:`` feeds off the
    reactor thread; ``connectTCP`` and ``nameResolver`` are what Twisted's
    ``Agent`` uses to reach a host (TLS runs over that TCP connection). Any
    real reactor provides all of it; the daemon passes the running one.
    """

    def seconds(self) -> float: ...

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> IDelayedCall: ...

    # Spelled loosely: Twisted's interface names the callable ``callable``, its
    # reactors name it ``f``; both are called positionally.
    def callFromThread(self, *args: Any, **kwargs: Any) -> None: ...

    def getThreadPool(self) -> ThreadPool: ...

    def connectTCP(
        self,
        host: str,
        port: int,
        factory: ClientFactory,
        timeout: float = ...,
        bindAddress: tuple[str, int] | None = ...,  # noqa: N803 -- Twisted's own name
    ) -> IConnector: ...

    @property
    def nameResolver(self) -> IHostnameResolver: ...


# -- the web face and the daemon's reactor ---------------------------------------------


if TYPE_CHECKING:
    from twisted.internet.interfaces import (
        IReactorCore,
        IReactorPluggableNameResolver,
        IReactorTCP,
        IReactorThreads,
        IReactorTime,
    )

    class IDaemonReactor(
        IReactorCore, IReactorTime, IReactorThreads, IReactorTCP, IReactorPluggableNameResolver
    ):
        """Every reactor interface the daemon uses, for the service and its wiring.

        The web face needs only ``IReactorTime``; the store and the parse
        pool hand work to threads (``IReactorThreads``, which includes
        ``IReactorFromThreads``); the fetcher connects (``IReactorTCP``,
        name resolution); the service stops the reactor when it cannot start
        (``IReactorCore``). The real reactor provides them all. Declared for
        the type checker only: this module imports no Twisted at run time.
        """


# -- metrics -----------------------------------------------------------------------------


class Metrics(Protocol):
    """What the daemon's parts report for ``/metrics``: events only, no counting here.

    The poller, the parse pool, the output cache and the web server call
    these; an implementation counts them (:mod:`planetd.prometheus`) or
    drops them (:class:`planetd.nometrics.NullMetrics`, for tests and the
    command line). Each call is cheap and never raises.
    """

    def poll_finished(self, report: PollReport) -> None: ...

    def fetch_finished(self, seconds: float) -> None: ...

    def parse_finished(self, seconds: float) -> None: ...

    def page_built(self, seconds: float) -> None: ...

    def request_served(self, route: str, status: int) -> None: ...

    def worker_restarted(self) -> None: ...

    def reloaded(self, ok: bool) -> None: ...


# -- reload and reading lists ------------------------------------------------------------


class StoresReadingLists(Protocol):
    """What the daemon's reading lists need of the store: the feeds each list last named."""

    def reading_lists(self) -> Deferred[list[ReadingListState]]: ...

    def save_reading_list(self, state: ReadingListState) -> Deferred[None]: ...


# -- the parse pool's reactor --------------------------------------------------------------


class ParseReactor(Protocol):
    """What the parse pool needs of its reactor: a clock for time limits, a way back.

    ``callLater`` times each parse; ``callFromThread`` brings a worker's result
    from the pool's management thread to the reactor thread. Spelled as
    Twisted's interfaces spell them, so any real reactor provides them.
    """

    def callLater(
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> IDelayedCall: ...

    def callFromThread(
        self, callable: Callable[..., object], *args: object, **kwargs: object
    ) -> None: ...


__all__ += ["ParseReactor"]
