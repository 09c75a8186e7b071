"""Several planets behind one listener, in process: routing, links, the page of planets,
metrics labels and a reload that re-reads every planet's file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import treq
from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from feeds import atom
from planet_harness import Document, Planet, PlanetTestCase, reactor
from planetd.planets import load_planets
from planetd.reloading import CurrentWeb, Reloader
from planetd.router import PlanetsPage

SHARED = atom(
    "Shared", "https://s.example/", [("tag:s,1", "Shared post", "2026-07-04T09:00:00Z", "")]
)
ONLY_A = atom("A", "https://a.example/", [("tag:a,1", "Post of A", "2026-07-03T09:00:00Z", "")])
ONLY_B = atom("B", "https://b.example/", [("tag:b,1", "Post of B", "2026-07-02T09:00:00Z", "")])


class RouterTests(PlanetTestCase):
    """Two planets over one store and one poll, each served where its config says."""

    async def start(self, a_keys: str = "mount = /a/", b_keys: str = "host = b.example") -> Any:
        server = self.serve(
            {
                "/s.atom": Document(SHARED.encode()),
                "/a.atom": Document(ONLY_A.encode()),
                "/b.atom": Document(ONLY_B.encode()),
            }
        )
        folder = Path(self.folder())
        self.paths = [str(folder / "a.ini"), str(folder / "b.ini")]
        self.write("a.ini", f"name = Planet A\n{a_keys}", {"s": "S in A", "a": "A's own"}, server)
        self.write("b.ini", f"name = Planet B\n{b_keys}", {"s": "S in B", "b": "B's own"}, server)
        self.server = server
        planet = await self.planet(load_planets(self.paths), database=str(folder / "p.sqlite"))
        await planet.poll()
        return planet

    def write(self, name: str, keys: str, feeds: dict[str, str], server: Any) -> None:
        sections = "".join(
            f"\n[{server.url(f'/{f}.atom')}]\nname = {shown}\n" for f, shown in feeds.items()
        )
        path = Path(self.paths[0]).parent / name
        path.write_text(f"[Planet]\n{keys}\nmin_interval = 1s\n{sections}")

    async def fetch(self, planet: Planet, url: str) -> tuple[int, Any, str]:
        response = await planet._settle(planet.http.get(url, allow_redirects=False))
        body = await planet._settle(treq.content(response))
        return int(response.code), response.headers, bytes(body).decode()

    async def test_prefix_and_host_routing_keep_each_planets_pages_its_own(self) -> None:
        """/a/ is planet A (its links under /a/), Host b.example is planet B at its root;
        the shared feed was fetched once and shows in both under each planet's name."""
        planet = await self.start()
        assert [p for p, _ in self.server.requests].count("/s.atom") == 1
        status, _, page = await self.fetch(planet, "http://any.test/a/")
        assert status == 200
        assert 'href="/a/feeds"' in page and 'href="/a/atom.xml"' in page
        assert "S in A" in page and "Post of B" not in page
        status, _, page = await self.fetch(planet, "http://b.example/")
        assert status == 200
        assert "S in B" in page and "Post of A" not in page
        status, _, body = await self.fetch(planet, "http://B.EXAMPLE:8080/api/feeds")
        assert '"S in B"' in body
        status, headers, _ = await self.fetch(planet, "http://any.test/a?x=1")
        assert status == 301
        assert headers.getRawHeaders("location") == ["/a/?x=1"]
        # A is the first planet: also served at /.
        status, _, page = await self.fetch(planet, "http://any.test/feeds")
        assert status == 200 and "S in A" in page
        web = planet.parts.web
        assert web.route_of(b"/a/feeds/abc", b"GET") == "/a/feeds/<string:fid>"
        assert web.route_of(b"/planets/", b"GET") == "/planets/"
        assert web.route_of(b"/feeds", b"GET") == "/feeds"

    async def test_the_page_of_planets_is_at_root_when_no_planet_claims_it(self) -> None:
        """With ``root = no`` on the first planet, / is the page of planets: both planets
        linked, their newest entries under day headings, each with its planet as source,
        a post both show only once; a path no planet serves is a 404."""
        planet = await self.start("mount = /a/\nroot = no", "mount = /b/")
        status, _, page = await self.fetch(planet, "http://any.test/")
        assert status == 200
        assert '<a href="/a/">Planet A</a>' in page and '<a href="/b/">Planet B</a>' in page
        assert page.count("Shared post") == 1
        assert "Post of A" in page and "Post of B" in page
        assert 'class="day-heading"' in page
        assert (await self.fetch(planet, "http://any.test/planets/"))[0] == 200
        assert (await self.fetch(planet, "http://any.test/nowhere"))[0] == 404

    async def test_a_reload_reads_every_planets_file_again(self) -> None:
        """SIGHUP's reload with several planets re-reads each file: a name changed in the
        second planet's file shows in its pages, with no restart."""
        planet = await self.start()
        current = CurrentWeb(planet.parts.web.resource())
        reloader = Reloader(
            planet.parts, current, reactor, read_config=lambda _: load_planets(self.paths)
        )
        self.write(
            "b.ini", "name = Planet B\nhost = b.example", {"s": "S renamed", "b": "B"}, self.server
        )
        plan = await reloader.reload()
        assert plan is not None and plan.rerender
        page = await planet._settle(
            treq.content(await planet._settle(StubTreq(current).get("http://b.example/")))
        )
        assert b"S renamed" in page


class HeldStore:
    """The shared store's reading side, in memory: each read waits for :meth:`run`."""

    def __init__(self) -> None:
        self.generation = 0
        self.pending: list[tuple[Any, Deferred[Any]]] = []

    def reading_all(self, build: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.pending.append((build, d))
        return d

    def run(self) -> None:
        build, d = self.pending.pop(0)
        d.callback(build(None))


def test_the_page_of_planets_is_built_once_per_change_and_paced() -> None:
    """Requests that arrive while the first build runs share it; a change of the store
    rebuilds the page, but not sooner than rebuild_delay after the last build (meanwhile
    the page as last built is served at once)."""
    clock = Clock()
    store = HeldStore()
    built: list[int] = []

    def build(_db: Any, _now: Any) -> bytes:
        built.append(store.generation)
        return f"page {store.generation}".encode()

    page = PlanetsPage(store, clock, build, rebuild_delay=1.0)
    first = Deferred.fromCoroutine(page.cached())
    second = Deferred.fromCoroutine(page.cached())
    assert len(store.pending) == 1
    store.run()
    assert successResultOf(first).body == successResultOf(second).body == b"page 0"
    store.generation = 1
    assert successResultOf(Deferred.fromCoroutine(page.cached())).body == b"page 0"
    assert store.pending == []
    clock.advance(1.0)
    later = Deferred.fromCoroutine(page.cached())
    store.run()
    assert successResultOf(later).body == b"page 1"
    assert built == [0, 1]


def successResultOf(d: Deferred[Any]) -> Any:
    """The result ``d`` already has (trial's ``successResultOf``, for a plain test)."""
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]
