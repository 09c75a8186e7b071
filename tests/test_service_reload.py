"""The daemon's service reloading in-process, on the real reactor: SIGHUP, refusals, lists."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import treq
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import deferLater

from feeds import atom
from planet_harness import Document, DocumentServer, PlanetTestCase, reactor
from planetd.config import load_config
from planetd.service import PlanetService


def feed(title: str) -> Document:
    entries = [(f"tag:{title},2026:1", f"{title} post", "2026-07-04T10:00:00Z", "<p>x</p>")]
    return Document(atom(title, f"https://{title}.example/", entries).encode())


def opml(*outlines: tuple[str, str]) -> Document:
    body = "".join(f'<outline text="{name}" xmlUrl="{url}"/>' for url, name in outlines)
    return Document(f'<opml version="2.0"><head/><body>{body}</body></opml>'.encode())


class ReloadTests(PlanetTestCase):
    """A running PlanetService takes an edited config, and follows its reading lists."""

    async def service(self, config_path: Path) -> tuple[PlanetService, str]:
        service = PlanetService(
            load_config(str(config_path)),
            str(config_path.parent / "planet.sqlite"),
            [TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")],
            reactor,
            workers=1,
        )
        service.startService()
        self.addCleanup(service.stopService)
        assert service.started is not None
        await service.started
        return service, f"http://127.0.0.1:{service.ports[0].getHost().port}"

    async def until(self, check: Callable[[], Any], what: str) -> None:
        for _ in range(200):
            if await check():
                return
            await deferLater(reactor, 0.05)
        raise AssertionError(f"timed out waiting for {what}")

    async def feed_urls(self, base: str) -> set[str]:
        response = await treq.get(base + "/api/feeds", persistent=False)
        return {f["url"] for f in (await response.json())["feeds"]}

    async def test_sighup_reloads_and_a_broken_config_is_refused(self) -> None:
        """SIGHUP schedules a reload that adds a feed; a broken file is refused and the
        running config stays; /metrics counts both; stopping puts the previous SIGHUP
        handler back."""
        server: DocumentServer = self.serve({"/a": feed("alpha"), "/b": feed("beta")})
        path = Path(self.folder()) / "planet.ini"
        head = "[Planet]\nname = P\nmin_interval = 1s\n"
        path.write_text(head + f"[{server.url('/a')}]\n")
        before = signal.getsignal(signal.SIGHUP)
        service, base = await self.service(path)

        path.write_text(head + f"[{server.url('/a')}]\n[{server.url('/b')}]\n")
        os.kill(os.getpid(), signal.SIGHUP)

        async def both() -> bool:
            return await self.feed_urls(base) == {server.url("/a"), server.url("/b")}

        await self.until(lambda: _true_if(service.reloader.reloads == 1), "the reload")
        assert await both()
        await self.until(lambda: _true_if(("/b", 200) in server.requests), "b fetched")

        path.write_text(head + "poll_interval = never\n")
        plan = await service.request_reload()
        assert plan is None
        assert await both()

        path.write_text(head + f"[{server.url('/b')}]\nname = Bee\n")
        plan = await service.request_reload()
        assert plan is not None and plan.removed == (server.url("/a"),)
        assert await self.feed_urls(base) == {server.url("/b")}
        # /metrics counts reloads by result: two applied, one refused.
        metrics = service.parts.metrics.exposition().decode()
        assert 'planetd_reloads_total{result="ok"} 2.0' in metrics
        assert 'planetd_reloads_total{result="failed"} 1.0' in metrics
        await service.stopService()
        assert signal.getsignal(signal.SIGHUP) == before

    async def test_a_reading_list_is_followed(self) -> None:
        """A list's feeds are polled and shown with their list; a feed dropped from the
        list leaves; a list that stops being OPML keeps the feeds it named."""
        server = self.serve({"/a": feed("alpha"), "/b": feed("beta")})
        server.documents["/list"] = opml((server.url("/a"), "Alpha"), (server.url("/b"), "Beta"))
        path = Path(self.folder()) / "planet.ini"
        path.write_text(
            "[Planet]\nname = P\nmin_interval = 1s\n"
            f"[{server.url('/list')}]\ncontent_type = opml\npoll_interval = 1s\n"
        )
        service, base = await self.service(path)

        async def listed() -> set[str]:
            return await self.feed_urls(base)

        async def shown() -> dict[str, tuple[str, str]]:
            response = await treq.get(base + "/api/feeds", persistent=False)
            feeds = (await response.json())["feeds"]
            return {f["url"]: (f["name"], f["reading_list"]) for f in feeds}

        wanted = {
            server.url("/a"): ("Alpha", server.url("/list")),
            server.url("/b"): ("Beta", server.url("/list")),
        }
        await self.until(lambda: _eq(shown(), wanted), "the listed feeds")

        server.documents["/list"] = opml((server.url("/b"), "Beta"))
        await self.until(lambda: _eq(listed(), {server.url("/b")}), "alpha dropped")
        server.documents["/list"] = Document(b"<html>moved</html>")
        await deferLater(reactor, 2.5)
        assert await listed() == {server.url("/b")}
        assert service.reloader.list_states[server.url("/list")].last_error


async def _true_if(value: bool) -> bool:
    return value


async def _eq(got: Any, wanted: object) -> bool:
    return bool(await got == wanted)
