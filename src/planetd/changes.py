"""The live river's change feed, decided: what an event holds and what a resuming client missed.

Owns the rules of ``/events`` (Server-Sent Events) that do not need a socket:
one event per store change that made entries a reader may see (the ids
``/api/entries`` gives them), each event's id, the bytes each event, the
heartbeat and a reset are on the wire, and, for a client that comes back with
a ``Last-Event-ID``, which of the recent events it missed, or that it must
reload the page instead (a reset) because they are no longer kept.

Event ids are ``EPOCH-N``: ``N`` counts the events of one run of the daemon
from 1, ``EPOCH`` names the run (from the time it started), so an id from an
earlier run, from the future, or garbled is never mistaken for a place in this
run's feed: each of those gets a reset. The shell that keeps the ring of recent
events and the open streams is :mod:`planetd.livefeed`.

Pure: no Twisted, no I/O. Must not import the store or the web face.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

import attrs

from planetd.boundaries import EntryID

#: Events kept for clients that reconnect; one that missed older ones gets a reset.
RING_SIZE = 512
#: Milliseconds a browser waits before it reconnects a dropped stream (the ``retry:`` field).
RETRY_MS = 5000
#: Ids one event carries at most (a poll that stored more sends several events).
IDS_PER_EVENT = 100
#: The comment written on every open stream every ``event_heartbeat`` seconds: it keeps
#: proxies from timing the stream out and finds clients that went away.
HEARTBEAT = b": heartbeat\n\n"

_EVENT_ID = re.compile(r"^([0-9a-z]{1,16})-([0-9]{1,18})$")


def epoch_of(seconds: float) -> str:
    """The name of a run that started at ``seconds`` (Unix time): its milliseconds, base 36."""
    value = max(0, int(seconds * 1000))
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        value, digit = divmod(value, 36)
        text = digits[digit] + text
        if value == 0:
            return text


@attrs.frozen
class ChangeEvent:
    """One store change that made entries a reader may see: the new entries' ids."""

    epoch: str
    #: The event's place in this run's feed, from 1.
    number: int
    entry_ids: tuple[EntryID, ...]

    @property
    def id(self) -> str:
        """The ``id:`` the stream sends, and the ``Last-Event-ID`` a browser sends back."""
        return event_id(self.epoch, self.number)


def event_id(epoch: str, number: int) -> str:
    """The id of event ``number`` of the run ``epoch`` (number 0: before the first event)."""
    return f"{epoch}-{number}"


def events_for(
    new_ids: Iterable[EntryID], epoch: str, after: int, *, per_event: int = IDS_PER_EVENT
) -> list[ChangeEvent]:
    """The events one store change makes, numbered after ``after``: none without new
    visible entries, else the ids in order, at most ``per_event`` to an event."""
    ids = list(dict.fromkeys(new_ids))  # once each, in the order stored
    return [
        ChangeEvent(epoch, after + 1 + n, tuple(ids[start : start + per_event]))
        for n, start in enumerate(range(0, len(ids), per_event))
    ]


@attrs.frozen
class Resume:
    """What a client that (re)connects gets before live events: the events it missed,
    or a reset telling it to reload the page."""

    missed: tuple[ChangeEvent, ...] = ()
    reset: bool = False


def resume(
    last_event_id: str | None, ring: Sequence[ChangeEvent], epoch: str, latest: int
) -> Resume:
    """What a client whose last event was ``last_event_id`` missed.

    Args:
        last_event_id: The ``Last-Event-ID`` it sent (or the id its page was built at);
            None or empty for a client that starts from now.
        ring: The events kept, oldest first, all of run ``epoch``.
        epoch: This run.
        latest: The number of this run's newest event (0 before the first).

    A client whose id is of another run, garbled, ahead of ``latest``, or
    older than the oldest event kept (so that some events it missed are
    gone) gets a reset; any other gets the kept events after its id.
    """
    if not last_event_id:
        return Resume()
    match = _EVENT_ID.match(last_event_id.strip())
    if match is None or match.group(1) != epoch:
        return Resume(reset=True)
    seen = int(match.group(2))
    if seen > latest:
        return Resume(reset=True)
    oldest = ring[0].number if ring else latest + 1
    if seen < oldest - 1:
        return Resume(reset=True)
    return Resume(missed=tuple(e for e in ring if e.number > seen))


def encode_event(event: ChangeEvent) -> bytes:
    """An ``entries`` event on the wire: its id and ``{"ids": [...]}``."""
    data = json.dumps({"ids": list(event.entry_ids)}, separators=(",", ":"))
    return f"id: {event.id}\nevent: entries\ndata: {data}\n\n".encode()


def encode_reset(epoch: str, latest: int) -> bytes:
    """A ``reset`` event: the page must reload to be current. It carries the current id,
    so the browser's next reconnect resumes from now instead of being reset again."""
    return f"id: {event_id(epoch, latest)}\nevent: reset\ndata: {{}}\n\n".encode()


def opening(retry_ms: int = RETRY_MS) -> bytes:
    """The first bytes of every stream: how long to wait before reconnecting, and a
    comment, so the response's headers leave at once."""
    return f"retry: {retry_ms}\n: live river\n\n".encode()
