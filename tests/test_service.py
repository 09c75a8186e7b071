"""The daemon's service and parse pool in-process, on the real reactor.

``twistd`` end-to-end tests cover the same code in a subprocess; these run it
in the test process so that start order, shutdown and the pool's recovery are
checked step by step.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
import treq
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import deferLater
from twisted.python import usage

from feeds import atom
from planet_harness import Document, PlanetTestCase, reactor
from planetd import tap
from planetd.config import parse_config
from planetd.service import PlanetService
from planetd.workers import ParsePool, ParseTimeoutError
from workerjobs import crash_or_parse

FEED = atom(
    "Service Blog",
    "https://service.example/",
    [("tag:s,2026:1", "Hello", "2026-07-04T00:00:00Z", "<p>hi</p>")],
).encode()


class ServiceTests(PlanetTestCase):
    """PlanetService: ready only when warm, serving and polling; stops leaving a clean file."""

    async def test_start_serve_poll_and_stop_cleanly(self) -> None:
        """The service opens the store, renders, listens, polls; stopping closes everything
        and checkpoints the database so no write-ahead log is left behind."""
        server = self.serve({"/feed.atom": Document(FEED)})
        folder = Path(self.folder())
        config = parse_config(
            f"[Planet]\nname = In process\nmin_interval = 1s\n\n[{server.url('/feed.atom')}]\n",
            str(folder / "planet.ini"),
        )
        database = str(folder / "planet.sqlite")
        service = PlanetService(
            config,
            database,
            [TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")],
            reactor,
            workers=1,
        )
        service.startService()
        assert service.started is not None
        await service.started
        port = service.ports[0].getHost().port
        base = f"http://127.0.0.1:{port}"
        response = await treq.get(base + "/healthz", persistent=False)
        assert response.code == 200
        for _ in range(100):
            entries = await (await treq.get(base + "/api/entries", persistent=False)).json()
            if entries["entries"]:
                break
            await deferLater(reactor, 0.05)
        assert [e["title"] for e in entries["entries"]] == ["Hello"]
        await service.stopService()
        assert not service.running
        assert service.ports == []
        wal = Path(database + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0


class ParsePoolTests(PlanetTestCase):
    """A worker that crashes or hangs fails its own feed only; the pool recovers."""

    def pool(self, **kw: Any) -> ParsePool:
        pool = ParsePool(reactor, workers=2, target=crash_or_parse, **kw)
        self.addCleanup(pool.stop)
        return pool

    async def test_a_crashing_worker_fails_one_parse_and_the_pool_recovers(self) -> None:
        """A worker dying mid-parse fails that parse; the next parse runs on a new pool."""
        pool = self.pool()
        good = await pool.parse(FEED, "https://s.example/feed", None, {})
        assert good.entries
        with pytest.raises(BrokenProcessPool):
            await pool.parse(b"crash", "https://s.example/crash", None, {})
        after = await pool.parse(FEED, "https://s.example/feed", None, {})
        assert [e.title for e in after.entries] == ["Hello"]
        assert pool.restarts >= 1

    async def test_a_parse_past_its_time_limit_fails_alone(self) -> None:
        """A parse that runs too long is stopped; a parse that shared its pool is run again."""
        pool = self.pool(time_limit=1.0)
        pool.start()
        hung = pool.parse(b"hang", "https://s.example/hang", None, {})
        innocent = pool.parse(FEED, "https://s.example/feed", None, {})
        with pytest.raises(ParseTimeoutError):
            await hung
        assert [e.title for e in (await innocent).entries] == ["Hello"]
        assert [e.title for e in (await pool.parse(FEED, "u", None, {})).entries] == ["Hello"]


def test_options_need_a_config() -> None:
    """`twistd planetd` without --config is a usage error."""
    options = tap.Options()
    with pytest.raises(usage.UsageError):
        options.parseOptions([])


def test_listen_is_repeatable() -> None:
    """--listen may be given more than once; every endpoint is kept, in order."""
    options = tap.Options()
    options.parseOptions(["--config", "x.ini", "--listen", "tcp:1", "-l", "tcp:2"])
    assert options["listen"] == ["tcp:1", "tcp:2"]


def test_make_service_reports_a_bad_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed --listen is one line naming it, and no service is made."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = P\n")
    options = tap.Options()
    options.parseOptions(["--config", str(config), "--listen", "nonsense:1:2"])
    with pytest.raises(SystemExit):
        tap.makeService(options)
    assert capsys.readouterr().err.startswith("planetd: --listen 'nonsense:1:2'")


def test_make_service_builds_the_daemon(tmp_path: Path) -> None:
    """A good config and database give a PlanetService listening where the config says."""
    config = tmp_path / "planet.ini"
    config.write_text("[Planet]\nname = P\nlisten = tcp:0:interface=127.0.0.1\n")
    options = tap.Options()
    options.parseOptions(["--config", str(config)])
    service = tap.makeService(options)
    assert isinstance(service, PlanetService)
    assert len(service.endpoints) == 1
    assert (tmp_path / "planetd.sqlite").exists()
    assert os.path.basename(sys.executable)


def test_listening_addresses_are_logged_as_urls() -> None:
    """The ready line names where to point a browser, not a repr of Twisted's address."""
    from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress

    from planetd.service import where

    assert where(IPv4Address("TCP", "127.0.0.1", 8080)) == "http://127.0.0.1:8080/"
    assert where(IPv6Address("TCP", "::1", 8081)) == "http://[::1]:8081/"
    assert where(UNIXAddress(b"/run/planetd.sock")) == "unix:/run/planetd.sock"
