"""The live river as the daemon wires it: the poll path publishes to the change feed that
the web face streams, and a reload keeps the same feed (so open pages keep their place)."""

from __future__ import annotations

import attrs
from treq.testing import StubTreq
from twisted.web.test.requesthelper import DummyRequest

from feeds import atom
from planet_harness import Document, PlanetTestCase

FIRST = [("tag:w,2026:1", "One", "2026-07-01T09:00:00Z", "<p>one</p>")]
SECOND = [*FIRST, ("tag:w,2026:2", "Two", "2026-07-02T09:00:00Z", "<p>two</p>")]


class LiveWiring(PlanetTestCase):
    async def test_a_poll_that_stores_entries_publishes_their_ids(self) -> None:
        """A poll storing a new entry publishes one event with the id ``/api/entries``
        shows; a poll that finds nothing new publishes none; the river page resumes from
        the newest event."""
        server = self.serve({"/f.atom": Document(atom("W", "https://w.example/", FIRST).encode())})
        planet = await self.planet_for([server.url("/f.atom")])
        changes = planet.parts.changes
        await planet.poll()
        [first] = await planet.entries()
        assert changes.latest == 1
        assert changes.kept[0].entry_ids == (first["id"],)
        await planet.poll()  # unchanged: a 304 or the same body
        assert changes.latest == 1
        server.documents["/f.atom"] = Document(atom("W", "https://w.example/", SECOND).encode())
        await planet.poll()
        ids = {e["title"]: e["id"] for e in await planet.entries()}
        assert changes.latest == 2
        assert changes.kept[1].entry_ids == (ids["Two"],)
        assert f"/events?since={changes.last_event_id}" in await planet.river()

    async def test_a_reload_keeps_the_change_feed_and_takes_its_limits(self) -> None:
        """A new web face (a reload that changes pages) streams the same change feed, with
        the reloaded ``max_event_streams`` and ``event_heartbeat``."""
        server = self.serve({"/f.atom": Document(atom("W", "https://w.example/", FIRST).encode())})
        planet = await self.planet_for([server.url("/f.atom")])
        changes = planet.parts.changes
        reloaded = attrs.evolve(planet.config, max_event_streams=7, event_heartbeat=3.0)
        planet.parts.web = planet.parts.make_web(reloaded)
        assert planet.parts.changes is changes
        assert (changes.max_streams, changes.heartbeat) == (7, 3.0)
        planet.http = StubTreq(planet.parts.web.app.resource())
        assert (await planet.get("/static/live.js"))[0] == 200
        planet.parts.web = planet.parts.make_web(attrs.evolve(reloaded, max_event_streams=0))
        planet.http = StubTreq(planet.parts.web.app.resource())
        assert (await planet.get("/static/live.js"))[0] == 404

    async def test_stopping_the_planet_ends_every_stream(self) -> None:
        """The daemon's stop (the assembly's close) finishes every open ``/events`` stream,
        so no client hangs on a daemon that is gone, and refuses new ones."""
        server = self.serve({"/f.atom": Document(atom("W", "https://w.example/", FIRST).encode())})
        planet = await self.planet_for([server.url("/f.atom")])
        changes = planet.parts.changes
        streams = [DummyRequest([b"events"]) for _ in range(3)]
        for stream in streams:
            changes.stream(stream)
        assert changes.open_streams == 3
        await planet.stop()
        assert all(s.finished for s in streams)
        assert changes.open_streams == 0
        late = DummyRequest([b"events"])
        changes.stream(late)
        assert late.responseCode == 503
