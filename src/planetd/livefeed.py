"""The live river's shell: the ring of recent events and the open ``/events`` streams.

Owns the state :mod:`planetd.changes` decides over: the last
:data:`planetd.changes.RING_SIZE` events of this run, the streams that are
open (at most ``max_event_streams``; one more is answered ``503`` with
``Retry-After``), one heartbeat timer for all of them (armed only while a
stream is open), and closing every stream when the daemon stops. A stream
leaves the set the moment its client goes away (``notifyFinish``), so a
disconnect leaks nothing.

The poller tells it of each finished poll (:meth:`ChangeFeed.polled`, the
poller's ``on_poll``): a poll that stored entries a reader may see is
published at once, before the pages are rebuilt. What an event holds and
what a resuming client missed are :mod:`planetd.changes`' rules; this module
only keeps, writes and counts. ``/events`` is :class:`EventsResource`, which
the web face serves as it is: no gzip, no ``ETag`` (a stream is never the
same twice). Must not import the store or Klein.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from planetd.boundaries import EntryID, PollReport
from planetd.changes import (
    HEARTBEAT,
    RETRY_MS,
    RING_SIZE,
    ChangeEvent,
    encode_event,
    encode_reset,
    epoch_of,
    event_id,
    events_for,
    opening,
    resume,
)

#: Seconds a client turned away (too many streams) is told to wait.
RETRY_AFTER = 30


class ChangeFeed:
    """This run's change feed: publishes events, holds the open streams.

    Args:
        reactor: The clock (the run's epoch, the heartbeat).
        max_streams: Most streams open at once (``max_event_streams``).
        heartbeat: Seconds between two heartbeat comments (``event_heartbeat``).
        ring_size: Events kept for clients that reconnect.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        *,
        max_streams: int = 1000,
        heartbeat: float = 15.0,
        ring_size: int = RING_SIZE,
    ) -> None:
        self._reactor = reactor
        self.max_streams = max_streams
        self.heartbeat = heartbeat
        self.epoch = epoch_of(reactor.seconds())
        #: The number of this run's newest event (0 before the first).
        self.latest = 0
        self._ring: deque[ChangeEvent] = deque(maxlen=ring_size)
        self._streams: set[Request] = set()
        self._beat: IDelayedCall | None = None
        self._closed = False

    @property
    def last_event_id(self) -> str:
        """The id of the newest event: a page built now resumes from here."""
        return event_id(self.epoch, self.latest)

    @property
    def kept(self) -> tuple[ChangeEvent, ...]:
        """The events kept for clients that reconnect, oldest first."""
        return tuple(self._ring)

    @property
    def open_streams(self) -> int:
        """How many streams are open now."""
        return len(self._streams)

    def configure(self, *, max_streams: int, heartbeat: float) -> None:
        """Take a reloaded config's limits (open streams stay open; the next beat uses it)."""
        self.max_streams = max_streams
        self.heartbeat = heartbeat

    def polled(self, report: PollReport) -> None:
        """The poller's ``on_poll``: publish the poll's new visible entries, if any."""
        if report.new_ids:
            self.publish(report.new_ids)

    def publish(self, new_ids: Iterable[EntryID]) -> list[ChangeEvent]:
        """Keep and send the events of one store change; returns them (none if nothing new)."""
        events = events_for(new_ids, self.epoch, self.latest)
        for event in events:
            self._ring.append(event)
            self.latest = event.number
            data = encode_event(event)
            for stream in list(self._streams):
                stream.write(data)
        return events

    def stream(self, request: Request) -> bytes | int:
        """Answer ``GET /events``: open a stream, or say why not (503, Retry-After).

        The client's ``Last-Event-ID`` header (a browser's reconnect), else its
        ``since`` argument (the id its page was built at), says where it
        resumes; see :func:`planetd.changes.resume`.
        """
        request.setHeader(b"cache-control", b"no-store")
        if self._closed or len(self._streams) >= self.max_streams:
            request.setResponseCode(503)
            request.setHeader(b"retry-after", str(RETRY_AFTER).encode())
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"too many live river streams are open; try again later\n"
        plan = resume(_last_event_id(request), self._ring, self.epoch, self.latest)
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"x-accel-buffering", b"no")  # a proxy in front must not hold events
        request.write(opening(RETRY_MS))
        if plan.reset:
            request.write(encode_reset(self.epoch, self.latest))
        for event in plan.missed:
            request.write(encode_event(event))
        self._streams.add(request)
        request.notifyFinish().addBoth(lambda _: self._forget(request))
        self._arm()
        return NOT_DONE_YET

    def _forget(self, request: Request) -> None:
        self._streams.discard(request)
        if not self._streams:
            self._disarm()

    def _arm(self) -> None:
        if self._beat is None and self._streams:
            self._beat = self._reactor.callLater(self.heartbeat, self._tick)

    def _disarm(self) -> None:
        if self._beat is not None and self._beat.active():
            self._beat.cancel()
        self._beat = None

    def _tick(self) -> None:
        self._beat = None
        for stream in list(self._streams):
            stream.write(HEARTBEAT)
        self._arm()

    def close(self) -> None:
        """End every open stream and refuse new ones (the daemon is stopping)."""
        self._closed = True
        self._disarm()
        streams, self._streams = list(self._streams), set()
        for stream in streams:
            try:
                stream.finish()
            except Exception:  # a client that left as we closed: nothing to end
                self.log.debug("an event stream was already gone at shutdown")


def _last_event_id(request: Request) -> str | None:
    """Where the client resumes: its ``Last-Event-ID`` header, else its ``since`` argument."""
    header = request.getHeader(b"last-event-id")
    if header:
        return header.decode("latin-1") if isinstance(header, bytes) else str(header)
    values = request.args.get(b"since") if request.args else None
    if values:
        value = values[-1]
        return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


class EventsResource(Resource):
    """``GET /events``: the change feed as Server-Sent Events."""

    isLeaf = True

    def __init__(self, feed: ChangeFeed) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # unannotated in Twisted
        self.feed = feed

    def render_GET(self, request: Request) -> bytes | int:
        return self.feed.stream(request)
