"""WebSub over real HTTP: a planet, a feed server and a hub, all on 127.0.0.1.

The planet is the daemon's assembly, served on a real port with the daemon's
request class (its ``public_url`` is that port); the hub is
``tests/websubhub.py``'s, which verifies intents with real GETs to the
callbacks and pushes with real, signed POSTs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import attrs
import treq
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientCreator, Protocol
from twisted.internet.task import deferLater
from twisted.web.resource import Resource
from twisted.web.server import Site

from feeds import atom
from planet_harness import Document, Planet, PlanetTestCase, make_config, reactor
from planetd.reloading import CurrentWeb
from planetd.websubweb import bounded_request
from websubhub import Hub, start_hub

ENTRIES = [
    ("tag:b,2026:1", "First post", "2026-07-01T10:00:00Z", "<p>one</p>"),
    ("tag:b,2026:2", "Second post", "2026-07-02T10:00:00Z", "<p>two</p>"),
]
NEW = ("tag:b,2026:3", "Pushed post", "2026-07-03T10:00:00Z", "<p>three</p>")


def hub_feed(entries: list[tuple[str, str, str, str]], hub: str, self_url: str) -> bytes:
    """An Atom feed naming its WebSub hub and its self URL in ``atom:link``."""
    text = atom("Blog", "https://blog.example/", entries)
    links = f'<link rel="hub" href="{hub}"/><link rel="self" href="{self_url}"/>'
    return text.replace("<updated>", links + "<updated>", 1).encode()


class WebSubTests(PlanetTestCase):
    timeout = 60

    async def rig(
        self,
        *,
        hub_url: str | None = None,
        feed_bytes: int = 10 * 1024 * 1024,
        planet_bytes: int | None = None,
        in_headers: bool = False,
        **planet: Any,
    ) -> tuple[Planet, Hub, str]:
        """A running planet subscribed (or trying to be) to one feed naming ``hub_url``
        (default: a live test hub). Answers the planet, the hub and the feed's URL."""
        hub, hub_port, live_hub = start_hub(reactor)
        self.addCleanup(hub_port.stopListening)
        front = CurrentWeb(Resource())
        site = Site(front)
        site.noisy = False
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        public = f"http://127.0.0.1:{port.getHost().port}/"
        server = self.serve()
        feed_url = server.url("/feed.atom")
        self.hub_link = hub_url or live_hub + "/hub"
        server.documents["/feed.atom"] = (
            Document(
                atom("Blog", "https://blog.example/", ENTRIES).encode(),
                headers=(("Link", f'<{self.hub_link}>; rel="hub", <{feed_url}>; rel="self"'),),
            )
            if in_headers
            else Document(hub_feed(ENTRIES, self.hub_link, feed_url))
        )
        config = make_config(
            [feed_url],
            self.folder(),
            public_url=public,
            websub_lease=3600.0,
            max_feed_bytes=planet_bytes or feed_bytes,
            **planet,
        )
        feeds = tuple(attrs.evolve(f, max_feed_bytes=feed_bytes) for f in config.feeds)
        config = attrs.evolve(config, feeds=feeds)
        p = await self.planet(config)
        front.current = p.web.app.resource()
        site.requestFactory = bounded_request(config, reactor)
        assert p.parts.websub is not None
        p.parts.websub.start()
        await p.poll()
        return p, hub, feed_url

    def doc(self, entries: list[tuple[str, str, str, str]], feed_url: str) -> bytes:
        """The feed with ``entries``, naming the same hub as the served one."""
        return hub_feed(entries, self.hub_link, feed_url)

    async def until(self, check: Callable[[], bool], what: str, seconds: float = 10) -> None:
        for _ in range(int(seconds / 0.02)):
            if check():
                return
            await deferLater(reactor, 0.02, lambda: None)
        raise AssertionError(f"timed out waiting for {what}")

    async def subscribed(self, **options: Any) -> tuple[Planet, Hub, str]:
        p, hub, feed_url = await self.rig(**options)
        await self.until(lambda: feed_url in hub.verified, "the hub's verification")
        websub = p.parts.websub
        assert websub is not None
        await self.until(
            lambda: (
                websub.state_of(feed_url) is not None
                and websub.state_of(feed_url).value == "active"
            ),  # type: ignore[union-attr]
            "the subscription to be active",
        )
        return p, hub, feed_url

    async def titles(self, p: Planet) -> list[str]:
        return sorted(e["title"] for e in await p.entries())

    async def websub_json(self, p: Planet, feed_url: str) -> Any:
        await p.web.outputs.refresh()
        return next(f for f in await p.feeds() if f["url"] == feed_url)["websub"]

    async def test_subscribe_verify_and_a_signed_push_is_stored(self) -> None:
        """The first poll finds the hub; the planet subscribes (secret, lease, a callback
        under public_url/websub/), echoes the hub's challenge, and a push signed with the
        secret puts its new entry in /api/entries; /api/feeds and /feeds show the
        subscription."""
        p, hub, feed_url = await self.subscribed()
        (form,) = hub.requests
        assert form["hub.mode"] == "subscribe" and form["hub.topic"] == feed_url
        assert form["hub.callback"].startswith(p.config.public_url + "websub/")  # type: ignore[operator]
        assert len(form["hub.callback"].rsplit("/", 1)[1]) >= 24
        assert form["hub.secret"] and form["hub.lease_seconds"] == "3600"
        assert hub.verifications == [("subscribe", feed_url, 200, True)]
        result = await hub.publish(feed_url, self.doc([*ENTRIES, NEW], feed_url))
        assert result["statuses"] == [200]
        assert await self.titles(p) == ["First post", "Pushed post", "Second post"]
        shown = await self.websub_json(p, feed_url)
        assert shown["state"] == "active" and shown["hub"].endswith("/hub")
        assert shown["lease_expires_at"].endswith("Z") and shown["last_push_at"].endswith("Z")
        assert shown["pushes_accepted"] == 1
        status, page = await p.get("/feeds")
        assert status == 200 and b'<small class="health-push">push active</small>' in page

    async def test_a_hub_named_in_link_headers_is_subscribed(self) -> None:
        """A feed whose response names its hub and self URL only in HTTP Link headers is
        subscribed all the same, to that hub and topic."""
        _, hub, feed_url = await self.subscribed(in_headers=True)
        (form,) = hub.requests
        assert form["hub.topic"] == feed_url

    async def test_every_signature_algorithm_is_accepted(self) -> None:
        """sha1, sha384 and sha512 signatures are checked like sha256."""
        p, hub, feed_url = await self.subscribed()
        for n, algo in enumerate(("sha1", "sha384", "sha512")):
            entry = (f"tag:b,2026:{algo}", f"Signed {algo}", f"2026-07-0{4 + n}T10:00:00Z", "")
            doc = self.doc([*ENTRIES, entry], feed_url)
            assert (await hub.publish(feed_url, doc, algo=algo))["statuses"] == [200]
        assert {"Signed sha1", "Signed sha384", "Signed sha512"} <= set(await self.titles(p))

    async def test_a_push_with_a_bad_or_missing_signature_is_ignored(self) -> None:
        """A push signed with another secret, or not signed at all, is answered 2xx (so the
        hub does not retry), stores nothing, and counts as rejected."""
        p, hub, feed_url = await self.subscribed()
        doc = self.doc([*ENTRIES, NEW], feed_url)
        wrong = await hub.publish(feed_url, doc, secret="not-the-secret")
        unsigned = await hub.publish(feed_url, doc, unsigned=True)
        assert wrong["statuses"] == [202] and unsigned["statuses"] == [202]
        assert await self.titles(p) == ["First post", "Second post"]
        shown = await self.websub_json(p, feed_url)
        assert shown["pushes_rejected"] == 2 and shown["pushes_accepted"] == 0
        assert shown["last_push_at"] is None

    async def test_a_push_for_a_topic_never_subscribed_is_refused(self) -> None:
        """A POST to a callback id nobody was given is a 404; a correctly signed push
        naming another topic in its Link header is ignored. Neither stores anything."""
        p, hub, feed_url = await self.subscribed()
        doc = self.doc([*ENTRIES, NEW], feed_url)
        stranger = p.config.public_url + "websub/" + secrets.token_urlsafe(24)  # type: ignore[operator]
        response = await hub.http.post(stranger, data=doc, reactor=reactor)
        await treq.content(response)
        assert response.code == 404
        other = await hub.publish(feed_url, doc, self_url="http://elsewhere.example/feed")
        assert other["statuses"] == [202]
        assert await self.titles(p) == ["First post", "Second post"]
        query = "?hub.mode=subscribe&hub.topic=http://elsewhere.example/&hub.challenge=x"
        callback = hub.requests[0]["hub.callback"]
        response = await hub.http.get(callback + query, reactor=reactor)
        assert response.code == 404 and await treq.content(response) != b"x"

    async def test_a_replayed_push_is_stored_once(self) -> None:
        """The same signed body pushed twice leaves one copy of its entry."""
        p, hub, feed_url = await self.subscribed()
        doc = self.doc([*ENTRIES, NEW], feed_url)
        assert (await hub.publish(feed_url, doc))["statuses"] == [200]
        assert (await hub.publish(feed_url, doc))["statuses"] == [200]
        assert await self.titles(p) == ["First post", "Pushed post", "Second post"]

    async def test_an_oversized_push_is_refused(self) -> None:
        """A push larger than every max_feed_bytes is refused (413) by the server before
        the body is kept; one within the planet's limit but over its feed's own is
        refused by the callback. Neither stores anything."""
        for planet_bytes in (4096, 10 * 1024 * 1024):
            p, hub, feed_url = await self.rig(feed_bytes=4096, planet_bytes=planet_bytes)
            verified = hub.verified
            await self.until(lambda: bool(verified), "the hub's verification")  # noqa: B023
            big = ("tag:b,2026:big", "Big", "2026-07-03T10:00:00Z", "<p>" + "x" * 8000 + "</p>")
            result = await hub.publish(feed_url, self.doc([*ENTRIES, big], feed_url))
            assert result["statuses"] == [413]
            assert await self.titles(p) == ["First post", "Second post"]

    async def test_a_body_that_drips_is_dropped_after_the_fetch_timeout(self) -> None:
        """A POST whose body is still arriving after feed_timeout loses its connection
        (a push is held to a fetch's time limit), and nothing is stored."""
        p, hub, _ = await self.subscribed(feed_timeout=1.0)
        callback = hub.requests[0]["hub.callback"]
        path = "/" + callback.split("/", 3)[3]
        port = int(callback.split(":")[2].split("/")[0])
        closed: Deferred[float] = Deferred()
        started = reactor.seconds()

        class Drip(Protocol):
            def connectionMade(self) -> None:
                head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                self.transport.write(head.encode() + b"<feed")  # type: ignore[union-attr]

            def connectionLost(self, reason: object = None) -> None:
                closed.callback(reactor.seconds() - started)

        await ClientCreator(reactor, Drip).connectTCP("127.0.0.1", port)
        elapsed = await closed
        assert 0.9 <= elapsed < 5
        assert await self.titles(p) == ["First post", "Second post"]

    async def test_a_hub_that_is_down_leaves_polling_going(self) -> None:
        """The feed names a hub nobody listens on: the subscription is denied with the
        reason, and the feed is still polled and stored as usual."""
        closed = reactor.listenTCP(0, Site(Resource()), interface="127.0.0.1")
        dead_hub = f"http://127.0.0.1:{closed.getHost().port}/hub"
        await closed.stopListening()
        p, _, feed_url = await self.rig(hub_url=dead_hub)
        websub = p.parts.websub
        assert websub is not None
        await self.until(
            lambda: (
                str(websub.state_of(feed_url)) == "WebSubState.DENIED"
                or getattr(websub.state_of(feed_url), "value", None) == "denied"
            ),
            "the subscription to be denied",
        )
        shown = await self.websub_json(p, feed_url)
        assert shown["state"] == "denied" and "hub failed" in shown["last_error"]
        reports = await p.poll()
        assert [r.status.value for r in reports] == ["ok"]
        feed = next(f for f in await p.feeds() if f["url"] == feed_url)
        assert feed["status"] == "ok" and feed["entry_count"] == 2

    async def test_a_hub_that_denies_is_recorded(self) -> None:
        """A hub that answers the request, then sends hub.mode=denied: the subscription is
        denied with the hub's reason, and the challenge-less GET gets a 200."""
        hub, hub_port, live_hub = start_hub(reactor)
        hub.mode = "deny"
        self.addCleanup(hub_port.stopListening)
        p, _, feed_url = await self.rig(hub_url=live_hub + "/hub")
        websub = p.parts.websub
        assert websub is not None
        await self.until(lambda: bool(hub.verifications), "the hub's denial")
        assert hub.verifications == [("denied", feed_url, 200, False)]
        shown = await self.websub_json(p, feed_url)
        assert shown["state"] == "denied" and shown["last_error"] == "not today"
