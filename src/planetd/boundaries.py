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
Shells depend on these, never on each other's classes. The seams and values
that later capabilities add live in :mod:`planetd.featureseams` and
:mod:`planetd.featurevalues`; every name of both is re-exported here.

This module holds no logic and imports nothing heavy at run time (no Twisted,
no feedparser): Twisted's types appear only under ``TYPE_CHECKING``, so the
plugin and the pure core both import it freely.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from planetd.featureseams import (
    AnswersCallbacks,
    ClaimsFeeds,
    RendersPages,
    StoresReadingLists,
    StoresSubmissions,
    StoresSubscriptions,
    TakesPushes,
    WebFace,
)
from planetd.featurevalues import (
    Claim,
    Group,
    PlanetPlace,
    Preview,
    SearchHit,
    SearchQuery,
    SearchResults,
    SearchTooSlowError,
    Submission,
    SubmissionForm,
    SubmissionState,
    Subscription,
    WebSubState,
)
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
    GroupSection,
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
    "AnswersCallbacks",
    "Claim",
    "ClaimsFeeds",
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
    "Group",
    "GroupSection",
    "Hidden",
    "Judge",
    "ListedFeed",
    "Metrics",
    "Output",
    "ParsedEntry",
    "ParsedFeed",
    "Parses",
    "PlanetConfig",
    "PlanetPlace",
    "PollOutcome",
    "PollRecord",
    "PollReport",
    "Preview",
    "ReadingList",
    "ReadingListState",
    "ReadsAllPlanets",
    "ReadsPlanet",
    "RendersPages",
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "SearchTooSlowError",
    "StoredEntry",
    "Stores",
    "StoresAllPlanets",
    "StoresReadingLists",
    "StoresSubmissions",
    "StoresSubscriptions",
    "Submission",
    "SubmissionForm",
    "SubmissionState",
    "Subscription",
    "TakesPushes",
    "Validators",
    "WebFace",
    "WebSubState",
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
        feed_urls: Collection[FeedURL] | None = None,
    ) -> list[StoredEntry]: ...

    def hidden_counts(self) -> dict[FeedURL, dict[str, int]]: ...

    def websub_states(self) -> dict[FeedURL, Subscription]:
        """Each feed's WebSub subscription, for ``/api/feeds`` (see the push section)."""
        ...

    def search(
        self,
        query: SearchQuery,
        *,
        limit: int,
        offset: int = 0,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
        feed_urls: Collection[FeedURL] | None = None,
    ) -> SearchResults:
        """One page of ``query``'s results (see :class:`SearchResults`); may raise
        :class:`SearchTooSlowError`. ``feed_urls`` (a group's feeds) narrows both reads."""


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


# -- several planets ---------------------------------------------------------------------


class ReadsAllPlanets(ReadsPlanet, Protocol):
    """The store read for one planet of several (:class:`planetd.planetview.PlanetReads`
    narrows it): entries and search limited to some ``feeds`` (with some hidden ones
    shown), the entries each planet's own ``new_feed_items`` hides, and the duplicates
    a planet shows because the first copy is in another planet's feed."""

    def entries(
        self,
        *,
        limit: int,
        before: tuple[float, str] | None = None,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
        feed_urls: Collection[FeedURL] | None = None,
        feeds: Collection[FeedURL] | None = None,
        unhidden: Collection[EntryID] = (),
    ) -> list[StoredEntry]: ...

    def search(
        self,
        query: SearchQuery,
        *,
        limit: int,
        offset: int = 0,
        feed_url: FeedURL | None = None,
        include_hidden: bool = False,
        judge: Judge | None = None,
        feed_urls: Collection[FeedURL] | None = None,
        feeds: Collection[FeedURL] | None = None,
        unhidden: Collection[EntryID] = (),
    ) -> SearchResults: ...

    def first_delivery_beyond(self, feed_url: FeedURL, keep: int) -> list[EntryID]: ...

    def duplicates_alone_in(self, feeds: Collection[FeedURL]) -> list[tuple[EntryID, FeedURL]]: ...


class StoresAllPlanets(Stores, Protocol):
    """The store as several planets share it: each planet's pages read all of it."""

    def reading_all(self, build: Callable[[ReadsAllPlanets], T]) -> Deferred[T]: ...


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
