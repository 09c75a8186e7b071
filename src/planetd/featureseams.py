"""The seams that planetd's later capabilities add to :mod:`planetd.boundaries`.

Reading lists, the web face as the daemon holds it (one planet or several),
submissions, push (WebSub) and several daemons sharing one planet each need a
few named operations of another part: what they need of the store
(:class:`StoresReadingLists`, :class:`StoresSubmissions`,
:class:`StoresSubscriptions`, :class:`ClaimsFeeds`), of the poll path
(:class:`TakesPushes`), of WebSub (:class:`AnswersCallbacks`) and of a web face
(:class:`WebFace`, :class:`RendersPages`). Kept apart from the seams every poll
and page crosses so that each module stays small; :mod:`planetd.boundaries`
re-exports every name here: import them from there.

Protocols only, no logic. It imports the values (:mod:`planetd.values`,
:mod:`planetd.featurevalues`) and never :mod:`planetd.boundaries` (which
imports this); Twisted's types appear only under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from planetd.featurevalues import (
    Claim,
    Preview,
    Submission,
    SubmissionForm,
    SubmissionState,
    Subscription,
)
from planetd.values import FeedURL, PollReport, ReadingListState

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.web.iweb import IRequest
    from twisted.web.resource import IResource


# -- reload and reading lists ------------------------------------------------------------


class StoresReadingLists(Protocol):
    """What the daemon's reading lists need of the store: the feeds each list last named."""

    def reading_lists(self) -> Deferred[list[ReadingListState]]: ...

    def save_reading_list(self, state: ReadingListState) -> Deferred[None]: ...


# -- the web face, one planet or several -----------------------------------------------


class RendersPages(Protocol):
    """A web face's rendered outputs, as the daemon opens and closes them."""

    def refresh(self) -> Deferred[None]: ...

    def stop(self) -> None: ...


class WebFace(Protocol):
    """What the daemon serves: one planet's :class:`planetd.web.PlanetWeb`, or several
    planets behind :class:`planetd.router.PlanetsWeb`."""

    @property
    def outputs(self) -> RendersPages: ...

    def resource(self) -> IResource: ...

    def stop(self) -> None: ...

    def route_of(self, path: bytes, method: bytes) -> str: ...


# -- submissions ---------------------------------------------------------------------------


class StoresSubmissions(Protocol):
    """What ``/submit`` and ``/moderate`` need of the store: the queue of suggested feeds.

    ``add_submission`` refuses (``planetd.submissions.SubmissionRefusedError``) a URL
    the queue holds, or a full queue, inside the one write that adds it.
    """

    def add_submission(
        self, form: SubmissionForm, preview: Preview, now: datetime, cap: int
    ) -> Deferred[Submission]: ...

    def find_submission(self, url: str) -> Deferred[Submission | None]: ...

    def submission(self, sid: int) -> Deferred[Submission | None]: ...

    def submissions(self, state: SubmissionState | None) -> Deferred[list[Submission]]: ...

    def pending_count(self) -> Deferred[int]: ...

    def decide_submission(
        self, sid: int, state: SubmissionState, reason: str | None, now: datetime
    ) -> Deferred[Submission | None]: ...


# -- push (WebSub) ---------------------------------------------------------------------


class StoresSubscriptions(Protocol):
    """What the WebSub subscriber needs of the store: its subscriptions, kept and dropped."""

    def subscriptions(self) -> Deferred[list[Subscription]]: ...

    def save_subscription(self, subscription: Subscription) -> Deferred[None]: ...

    def forget_subscription(self, feed_url: FeedURL) -> Deferred[None]: ...


class TakesPushes(Protocol):
    """What the WebSub subscriber needs of the poll path: a pushed document, handled
    exactly as a fetched one (parse, plan, store; None for a feed not polled), and an
    earlier poll when a feed's push stops (denied or lapsed)."""

    def take_pushed(
        self, url: FeedURL, body: bytes, content_type: str | None
    ) -> Deferred[PollReport | None]: ...

    def poll_within(self, url: FeedURL, seconds: float) -> None:
        """Poll ``url`` within ``seconds`` unless it is due sooner (its push stopped)."""


class AnswersCallbacks(Protocol):
    """What the web face needs of WebSub: an answer to a hub's request to a callback
    (``/websub/<id>``: a verification GET or a content POST); the bytes of the body."""

    def answer(self, request: IRequest, callback_id: str) -> Deferred[bytes]: ...


# -- several daemons, one planet ---------------------------------------------------------


class ClaimsFeeds(Protocol):
    """What the poller needs of a store that several daemons share: a lease per due feed.

    A feed is polled only by the node whose :meth:`claim` answered a state;
    storing its poll (``record_poll``) ends the lease.
    """

    def claim(self, url: FeedURL) -> Deferred[Claim]: ...
