"""The parse pool recycles its workers: memory a parser keeps cannot grow for ever.

Real worker processes on the real reactor: after a stated number of jobs (or when
a worker's resident memory passes a stated limit) the pool is retired and the next
job runs on fresh workers; a retired pool's jobs still finish or time out alone,
and every worker still exits when the daemon that owns it dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import deferLater

from conftest import subprocess_env
from feeds import atom
from planet_harness import PlanetTestCase, reactor
from planetd.workers import (
    CHECK_RSS_EVERY,
    ParsePool,
    ParseTimeoutError,
    recycle_due,
    resident_bytes,
)
from workerjobs import crash_or_parse

FEED = atom(
    "Worker Blog",
    "https://workers.example/",
    [("tag:w,2026:1", "Hello", "2026-07-04T00:00:00Z", "<p>hi</p>")],
).encode()


def gone(pid: int) -> bool:
    """Whether no process ``pid`` exists any more (or it is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def test_a_pool_is_due_for_recycling_after_its_jobs_or_past_its_memory() -> None:
    """Recycling is due at the job count, or when any worker is resident above the limit;
    not before, and not at exactly the limit."""
    assert not recycle_due(999, [100, 200], max_jobs=1000, max_rss=200)
    assert recycle_due(1000, [], max_jobs=1000, max_rss=200)
    assert recycle_due(3, [100, 201], max_jobs=1000, max_rss=200)


def test_resident_memory_is_read_for_a_live_process_and_zero_for_none() -> None:
    """The pool reads a worker's resident bytes from the kernel; a vanished pid reads 0."""
    assert resident_bytes(os.getpid()) > 1_000_000
    assert resident_bytes(2**22 + 12345) == 0


class RecyclingTests(PlanetTestCase):
    """After N jobs the pool's workers are new processes, and parses are still right."""

    def pool(self, **kw: Any) -> ParsePool:
        pool = ParsePool(reactor, target=crash_or_parse, **kw)
        self.addCleanup(pool.stop)
        return pool

    async def wait_gone(self, pids: list[int]) -> None:
        for _ in range(200):
            if all(gone(pid) for pid in pids):
                return
            await deferLater(reactor, 0.05)
        raise AssertionError(f"workers {pids} still alive after 10 s")

    async def test_workers_are_replaced_after_their_jobs_and_the_old_ones_exit(self) -> None:
        """With ``recycle_after=3``, the fourth parse runs on a new worker process; the
        retired worker exits; every parse (before and after) is right."""
        pool = self.pool(workers=1, recycle_after=3)
        titles = []
        for _ in range(2):
            titles += [e.title for e in (await pool.parse(FEED, "u", None, {})).entries]
        first = pool.worker_pids()
        assert len(first) == 1
        titles += [e.title for e in (await pool.parse(FEED, "u", None, {})).entries]
        assert pool.recycles == 1
        assert pool.generation == 2  # retired: a fresh pool is started (warmed) at once
        titles += [e.title for e in (await pool.parse(FEED, "u", None, {})).entries]
        second = pool.worker_pids()
        assert len(second) == 1 and second != first
        assert titles == ["Hello"] * 4
        assert pool.restarts == 0
        assert pool.generation == 2
        await self.wait_gone(first)

    async def test_the_retired_workers_exit(self) -> None:
        """A retired pool's processes end once its jobs are done; new pids differ from old."""
        pool = self.pool(workers=2, recycle_after=4)
        for _ in range(3):
            await pool.parse(FEED, "u", None, {})
        old = pool.worker_pids()
        assert old
        await pool.parse(FEED, "u", None, {})
        assert pool.recycles == 1
        await pool.parse(FEED, "u", None, {})
        new = pool.worker_pids()
        assert new and not set(new) & set(old)
        await self.wait_gone(old)

    async def test_a_worker_past_the_memory_limit_retires_its_pool(self) -> None:
        """Every ``CHECK_RSS_EVERY`` jobs the workers' resident memory is read; above the
        limit (here 1 byte) the pool is retired though its job count is far off."""
        pool = self.pool(workers=1, recycle_above_rss=1)
        for _ in range(CHECK_RSS_EVERY - 1):
            await pool.parse(FEED, "u", None, {})
        assert pool.recycles == 0
        parsed = await pool.parse(FEED, "u", None, {})
        assert [e.title for e in parsed.entries] == ["Hello"]
        assert pool.recycles == 1

    async def test_a_hung_parse_in_a_retired_pool_still_times_out_alone(self) -> None:
        """A parse that hangs in a pool retired meanwhile still fails at its time limit and
        its worker is killed; parses after it run on the fresh pool."""
        pool = self.pool(workers=2, recycle_after=2, time_limit=1.0)
        pool.start()
        old = pool.worker_pids()
        assert len(old) == 2
        hung = pool.parse(b"hang", "https://w.example/hang", None, {})
        await pool.parse(FEED, "u", None, {})
        assert pool.recycles == 1
        with pytest.raises(ParseTimeoutError):
            await hung
        assert pool.restarts == 1
        after = await pool.parse(FEED, "u", None, {})
        assert [e.title for e in after.entries] == ["Hello"]
        assert not set(pool.worker_pids()) & set(old)
        await self.wait_gone(old)


SCRIPT = """
import os, signal, sys
from twisted.internet import reactor
from planetd.workers import ParsePool

pool = ParsePool(reactor, workers=1, recycle_after=2)
feed = open(sys.argv[1], "rb").read()

async def run():
    await pool.parse(feed, "u", None, {})
    old = pool.worker_pids()
    await pool.parse(feed, "u", None, {})
    await pool.parse(feed, "u", None, {})
    assert pool.recycles == 1
    print(" ".join(map(str, old + pool.worker_pids())), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

from twisted.internet.defer import ensureDeferred
reactor.callWhenRunning(lambda: ensureDeferred(run()))
reactor.run()
"""


def test_recycled_workers_still_exit_when_their_daemon_is_killed(tmp_path: Path) -> None:
    """A daemon killed with SIGKILL cannot stop its pool; its workers, recycled ones
    included, notice their owner is gone and exit within seconds."""
    (tmp_path / "feed.atom").write_bytes(FEED)
    env = subprocess_env()  # the same planetd as this process: the installed one in CI
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "feed.atom")],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2 and pids[0] != pids[1], pids
    deadline = time.monotonic() + 10
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(p) for p in pids), pids
