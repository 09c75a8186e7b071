"""The WebSub subscriber on a deterministic clock: leases, renewals, lapses, the schedule.

The poller, the store and the parser are the real ones, run inline; the feed
is fetched from a script and the hub is an in-memory one that records every
request and answers from a script, so every step of a lease is checked at an
exact moment. The real HTTP hub is ``tests/test_websub.py``'s.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path

import pytest
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from feeds import atom
from planetd.boundaries import FeedURL, PollReport, WebSubState
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.poller import Poller
from planetd.store import open_database
from planetd.websub import CHECK_EVERY, WebSubscriber
from planetd.workers import InlineParser
from test_poller import START, ScriptedFetcher, ok

FEED = "https://blog.example/feed.atom"
HUB = "https://hub.example/"
LEASE = 1000


def hub_feed(n: int) -> bytes:
    day = "2026-05-20T10:00:00Z"
    entries = [(f"tag:b,2026:{i}", f"Post {i}", day, "<p>x</p>") for i in range(n)]
    text = atom("Blog", "https://blog.example/", entries)
    links = f'<link rel="hub" href="{HUB}"/><link rel="self" href="{FEED}"/>'
    return text.replace("<updated>", links + "<updated>", 1).encode()


class MemoryHub:
    """Records every request; answers each with the next scripted status (default 202)."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, str, dict[str, str]]] = []
        self.answers: list[tuple[int | None, str | None]] = []
        self.clock: Clock | None = None

    def ask(
        self, hub: str, form: Mapping[str, str], *, timeout: float
    ) -> Deferred[tuple[int | None, str | None]]:
        assert self.clock is not None
        self.asked.append((self.clock.seconds() - START, hub, dict(form)))
        return succeed(self.answers.pop(0) if self.answers else (202, None))

    def modes(self) -> list[str]:
        return [form["hub.mode"] for _, _, form in self.asked]


class Rig:
    def __init__(self, folder: Path, **planet: str) -> None:
        settings = {
            "min_interval": "60s",
            "poll_interval": "1h",
            "max_interval": "6h",
            "public_url": "https://planet.example/",
            "websub_lease": f"{LEASE}s",
            **planet,
        }
        text = "[Planet]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
        text += f"[{FEED}]\nname = Blog\n"
        self.config = parse_config(text, str(folder / "planet.ini"))
        self.db = open_database(str(folder / "planet.sqlite"))
        self.store = InlineStore(self.db)
        self.clock = Clock()
        self.clock.advance(START)
        self.fetcher = ScriptedFetcher()
        self.fetcher.clock = self.clock
        self.fetcher.scripts[FEED] = [ok(hub_feed(2))]
        self.reports: list[PollReport] = []
        self.poller = Poller(
            self.config,
            self.store,
            self.fetcher,
            InlineParser(),
            self.clock,
            rng=random.Random(3),
            on_poll=self.reports.append,
        )
        self.hub = MemoryHub()
        self.hub.clock = self.clock
        tokens = iter(f"token{i}" for i in range(1000))
        self.websub = WebSubscriber(
            self.config, self.store, self.poller, self.hub, self.clock, mint=lambda: next(tokens)
        )
        self.poller.tune = self.websub.tune
        self.poller.watchers.append(self.websub.heard)

    def start(self) -> None:
        assert Deferred.fromCoroutine(self.poller.load()).called
        assert Deferred.fromCoroutine(self.websub.load()).called
        self.poller.start()
        self.websub.start()

    def run_until(self, seconds: float, step: float = 1.0) -> None:
        while self.clock.seconds() - START < seconds:
            self.clock.advance(step)

    def verify(self, mode: str = "subscribe", lease: int = LEASE) -> bytes:
        sub = self.websub.subs[FeedURL(FEED)]
        query = {"hub.mode": mode, "hub.topic": FEED, "hub.challenge": "c-42"}
        query["hub.lease_seconds"] = str(lease)
        d = Deferred.fromCoroutine(self.websub.verify(sub.callback_id, query))
        assert d.called
        answer = d.result
        assert answer.status == 200
        return bytes(answer.body)

    def state(self) -> WebSubState:
        return self.websub.subs[FeedURL(FEED)].state

    def close(self) -> None:
        self.websub.stop()
        self.poller.stop()
        self.db.close()


@pytest.fixture
def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    made = Rig(tmp_path)
    yield made
    made.close()


def test_a_discovered_hub_is_subscribed_with_a_fresh_secret_and_lease(rig: Rig) -> None:
    """The first poll finds the hub; the subscriber asks it at once with the topic, an
    unguessable callback under public_url/websub/, a secret and the configured lease."""
    rig.start()
    rig.run_until(5)
    assert rig.hub.modes() == ["subscribe"]
    _, hub, form = rig.hub.asked[0]
    assert hub == HUB
    assert form["hub.topic"] == FEED
    assert form["hub.callback"].startswith("https://planet.example/websub/")
    assert form["hub.secret"] and form["hub.lease_seconds"] == str(LEASE)
    assert rig.state() is WebSubState.REQUESTED
    assert rig.verify() == b"c-42"
    assert rig.state() is WebSubState.ACTIVE


def test_an_active_lease_is_renewed_before_it_ends(rig: Rig) -> None:
    """A lease of 1000 s is renewed in its last tenth (within one check of 900 s), with
    the same callback and secret, and stays active throughout."""
    rig.start()
    rig.run_until(5)
    rig.verify()
    verified_at = rig.clock.seconds() - START
    rig.run_until(verified_at + 850)
    assert rig.hub.modes() == ["subscribe"]
    rig.run_until(verified_at + 900 + CHECK_EVERY + 1)
    assert rig.hub.modes() == ["subscribe", "subscribe"]
    first, renewal = rig.hub.asked[0][2], rig.hub.asked[1][2]
    assert renewal["hub.callback"] == first["hub.callback"]
    assert renewal["hub.secret"] == first["hub.secret"]
    assert 900 <= rig.hub.asked[1][0] - verified_at < 900 + CHECK_EVERY + 1
    assert rig.state() is WebSubState.ACTIVE
    rig.verify()
    assert rig.state() is WebSubState.ACTIVE


def test_a_lease_that_runs_out_lapses_and_polling_returns_to_its_interval(rig: Rig) -> None:
    """When the hub never verifies a renewal, the lease ends: the subscription is lapsed,
    asked again, and the feed is polled on its own interval, not max_interval."""
    rig.start()
    rig.run_until(5)
    rig.verify()
    feed = rig.poller.feeds[FeedURL(FEED)]
    assert rig.websub.tune(feed).poll_interval == 6 * 3600
    rig.run_until(LEASE + CHECK_EVERY + 5)
    assert rig.state() is WebSubState.LAPSED
    lapsed_at = rig.clock.seconds() - START
    assert rig.websub.tune(feed).poll_interval == 3600
    rig.run_until(lapsed_at + CHECK_EVERY + 1)
    assert rig.hub.modes() == ["subscribe"] * 3  # first, renewal, after the lapse
    assert rig.state() is WebSubState.REQUESTED
    rig.run_until(lapsed_at + 3600 + 5)
    assert [t for t in rig.fetcher.times(FEED) if t > lapsed_at]  # polled within the hour


def test_a_subscribed_feed_is_still_polled_at_max_interval(rig: Rig) -> None:
    """Once active, the next polls come a max_interval (6 h, less jitter) apart, not hourly;
    before that, hourly."""
    rig.start()
    rig.run_until(5)
    rig.verify(lease=10 * 86400)
    rig.run_until(3 * 86400, step=60)
    times = rig.fetcher.times(FEED)
    gaps = [b - a for a, b in pairwise(times)]
    assert gaps, times
    assert gaps[0] < 1.2 * 3600  # the poll scheduled before the subscription was active
    assert all(0.85 * 6 * 3600 <= g <= 1.01 * 6 * 3600 for g in gaps[1:]), gaps


def test_a_hub_that_cannot_be_reached_leaves_the_feed_polled_as_usual(rig: Rig) -> None:
    """A hub that fails the request: the subscription is denied (with the reason), the
    feed keeps its hourly polls, and the hub is asked again only after a day."""
    rig.hub.answers = [(None, "asking the hub failed: ConnectionRefusedError")]
    rig.start()
    rig.run_until(5)
    assert rig.state() is WebSubState.DENIED
    assert "ConnectionRefused" in (rig.websub.subs[FeedURL(FEED)].last_error or "")
    rig.run_until(4 * 3600, step=30)
    times = rig.fetcher.times(FEED)
    assert len(times) >= 4
    assert rig.hub.modes() == ["subscribe"]
    rig.run_until(86400 + 2 * CHECK_EVERY, step=60)
    assert rig.hub.modes() == ["subscribe", "subscribe"]


def test_a_feed_that_leaves_the_config_is_unsubscribed_then_forgotten(rig: Rig) -> None:
    """After a reload without the feed, the hub is asked to unsubscribe; the row is
    forgotten once the hub verifies that, and no callback answers for it any more."""
    rig.start()
    rig.run_until(5)
    rig.verify()
    callback_id = rig.websub.subs[FeedURL(FEED)].callback_id
    empty = parse_config(
        "[Planet]\nmin_interval = 60s\npublic_url = https://planet.example/\n",
        rig.config.path,
    )
    rig.websub.reconfigure(empty)
    rig.clock.advance(1)
    assert rig.hub.modes() == ["subscribe", "unsubscribe"]
    assert rig.state() is WebSubState.UNSUBSCRIBING
    assert rig.verify("unsubscribe") == b"c-42"
    assert FeedURL(FEED) not in rig.websub.subs
    assert rig.store.db.subscriptions() == []
    query = {"hub.mode": "subscribe", "hub.topic": FEED, "hub.challenge": "x"}
    d = Deferred.fromCoroutine(rig.websub.verify(callback_id, query))
    assert d.result.status == 404
