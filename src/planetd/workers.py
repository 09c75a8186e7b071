"""Running CPU-bound parsing on every core, off the reactor thread.

Owns the process pool that :func:`planetd.parse.parse_feed` runs in (the
lxml fast path first, feedparser for what it declines): parsing and
sanitizing hold the GIL, so threads would serialize them and stall the web
server. A worker that crashes or runs past its time limit fails that feed
only: the pool is replaced and the other jobs it held are run again once.

Workers are recycled, because a long-lived parser's heap only grows (lxml's
and feedparser's caches, fragmentation): after :data:`RECYCLE_AFTER_JOBS`
jobs, or as soon as a worker's resident memory passes
:data:`RECYCLE_ABOVE_RSS`, the pool is retired and the next job starts a
fresh one. A retired pool finishes the jobs it holds (its time limits still
apply), then its workers exit. Recycling is decided by
:func:`recycle_due`, a pure function of the counts it reads.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from planetd.boundaries import EntryKey, Metrics, ParsedFeed, ParseReactor
from planetd.nometrics import NULL_METRICS
from planetd.parse import parse_feed, parse_keeping_trackers

#: Jobs one pool runs before it is retired for a fresh one (about 1,000 per worker on
#: two cores). A new worker forks from the fork server but imports the daemon's main
#: script again: about 0.9 s of one core on a busy machine, so recycling costs a few
#: per cent of the parse work at most; the fresh pool is started (warmed) at once.
RECYCLE_AFTER_JOBS = 2000
#: A worker resident above this (bytes) retires its pool; a parse worker lives at 30-60 MB.
RECYCLE_ABOVE_RSS = 256 * 2**20
#: How often (in jobs) the workers' resident memory is read.
CHECK_RSS_EVERY = 50
#: Seconds ``stop`` waits for a pool's workers to finish their jobs before killing them.
STOP_WAIT = 2.0


class ParseTimeoutError(Exception):
    """A parse ran past its time limit."""


def recycle_due(jobs: int, worker_rss: Sequence[int], *, max_jobs: int, max_rss: int) -> bool:
    """Whether a pool that has run ``jobs`` jobs, its workers resident at ``worker_rss``
    bytes, is due to be replaced by a fresh one."""
    return jobs >= max_jobs or any(rss > max_rss for rss in worker_rss)


def resident_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` in bytes, or 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _exit_with(owner: int) -> None:
    """Worker initializer: exit as soon as the process that owns the pool is gone.

    A daemon killed with SIGKILL (the OOM killer, a crash) cannot shut its pool
    down; without this its workers would outlive it, and every restart would
    leave two more behind.
    """

    def watch() -> None:
        try:
            handle = os.pidfd_open(owner)
        except (AttributeError, OSError):
            handle = None
        if handle is not None:
            select.select([handle], [], [])
            os._exit(0)
        while True:  # no pidfd (old kernel): ask once a second
            time.sleep(1.0)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                continue

    threading.Thread(target=watch, name="planetd-owner-watch", daemon=True).start()


def _warm() -> int:
    """Run in each worker at start, so the first real parse pays no import cost."""
    return os.getpid()


class ParsePool:
    """A process pool for parsing, recreated when a worker dies or hangs, recycled when old."""

    log = Logger()

    def __init__(
        self,
        reactor: ParseReactor,
        *,
        workers: int | None = None,
        time_limit: float = 60.0,
        target: Callable[[bytes, str, str | None, dict[EntryKey, str]], ParsedFeed] = parse_feed,
        metrics: Metrics = NULL_METRICS,
        recycle_after: int = RECYCLE_AFTER_JOBS,
        recycle_above_rss: int = RECYCLE_ABOVE_RSS,
        strip_trackers: bool = True,
    ) -> None:
        self._reactor = reactor
        self.workers = workers or os.cpu_count() or 1
        self.time_limit = time_limit
        #: What a job runs: parse_feed, or (in tests) a module-level stand-in that crashes.
        self._target = (
            parse_keeping_trackers if target is parse_feed and not strip_trackers else target
        )
        self._executor: ProcessPoolExecutor | None = None
        self.generation = 0
        #: Pools replaced because a worker crashed or hung.
        self.restarts = 0
        #: Pools retired because they had run their jobs or grown past the memory limit.
        self.recycles = 0
        self.recycle_after = recycle_after
        self.recycle_above_rss = recycle_above_rss
        self._metrics = metrics
        #: Jobs submitted to the current pool.
        self._jobs = 0
        #: Every pool still holding jobs (the current one and retired ones), by generation.
        self._pools: dict[int, ProcessPoolExecutor] = {}
        #: The workers of each retired pool, kept so a hung one can still be killed
        #: (``shutdown`` forgets them).
        self._retired: dict[int, list[BaseProcess]] = {}
        #: Jobs submitted and not yet delivered, by generation.
        self._outstanding: dict[int, int] = {}

    def start(self) -> None:
        """Start the workers now, so the first poll does not wait for them."""
        executor = self._pool()
        for _ in range(self.workers):
            executor.submit(_warm)

    def stop(self) -> None:
        """Stop the workers and release the pools' queues; jobs still queued are cancelled.

        Waits (at most :data:`STOP_WAIT` seconds per pool, then kills the workers) for
        each pool's management thread to end, so the queues' semaphores are released
        before the daemon exits: twistd ends a process stopped by SIGTERM with that
        signal, which skips Python's exit handlers, and the resource tracker would
        then report them as leaked.
        """
        self._executor = None
        pools, self._pools = self._pools, {}
        retired, self._retired = self._retired, {}
        self._outstanding.clear()
        for generation, executor in pools.items():
            processes = retired.get(generation) or _processes(executor)
            manager = getattr(executor, "_executor_manager_thread", None)
            executor.shutdown(wait=False, cancel_futures=True)
            if isinstance(manager, threading.Thread):
                manager.join(STOP_WAIT)
                if manager.is_alive():
                    for process in processes:
                        process.kill()
                    manager.join(STOP_WAIT)
        del pools, retired
        gc.collect()  # the queues sit in reference cycles; their finalizers unregister them

    def worker_pids(self) -> list[int]:
        """The process ids of the current pool's workers (started so far), sorted."""
        if self._executor is None:
            return []
        return sorted(p.pid for p in _processes(self._executor) if p.pid is not None)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: forking a threaded Twisted process is unsafe; spawn is slower.
            context = multiprocessing.get_context("forkserver")
            # Workers fork from a server that has imported only the parser (not
            # the daemon's __main__, which would drag in Twisted): smaller and warm.
            context.set_forkserver_preload(["planetd.parse"])
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_exit_with,
                initargs=(os.getpid(),),
            )
            self.generation += 1
            self._jobs = 0
            self._pools[self.generation] = self._executor
            self._outstanding[self.generation] = 0
        return self._executor

    def _replace(self, generation: int) -> None:
        """Kill the pool of ``generation`` (if still alive) so the next job gets a fresh one."""
        executor = self._pools.pop(generation, None)
        if executor is None:
            return
        if executor is self._executor:
            self._executor = None
        self.restarts += 1
        self._metrics.worker_restarted()
        for process in self._retired.pop(generation, None) or _processes(executor):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def _retire(self) -> None:
        """Let the current pool finish what it holds and start no more jobs on it."""
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        self.recycles += 1
        self.log.debug(
            "recycling parse workers after {jobs} jobs", jobs=self._jobs, generation=self.generation
        )
        self._retired[self.generation] = _processes(executor)
        executor.shutdown(wait=False)
        self._forget_if_drained(self.generation)
        self.start()

    def _forget_if_drained(self, generation: int) -> None:
        """Drop a pool that is no longer current once every job it held is delivered."""
        if generation == self.generation and self._executor is not None:
            return
        if self._outstanding.get(generation, 0) <= 0:
            self._outstanding.pop(generation, None)
            self._pools.pop(generation, None)
            self._retired.pop(generation, None)

    def _submit(
        self, body: bytes, url: str, content_type: str | None, known: dict[EntryKey, str]
    ) -> tuple[Future[ParsedFeed], int]:
        executor = self._pool()
        future = executor.submit(self._target, body, url, content_type, known)
        self._jobs += 1
        self._outstanding[self.generation] += 1
        return future, self.generation

    def _delivered(self, generation: int) -> None:
        """Account for one job of ``generation`` delivered; retire the pool if it is due."""
        if generation in self._outstanding:
            self._outstanding[generation] -= 1
        if generation != self.generation or self._executor is None:
            self._forget_if_drained(generation)
            return
        rss: list[int] = []
        if self._jobs % CHECK_RSS_EVERY == 0:
            rss = [resident_bytes(pid) for pid in self.worker_pids()]
        if recycle_due(
            self._jobs, rss, max_jobs=self.recycle_after, max_rss=self.recycle_above_rss
        ):
            self._retire()

    def parse(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        known: Mapping[EntryKey, str],
    ) -> Deferred[ParsedFeed]:
        """Parse in a worker; errback with :class:`ParseTimeoutError` or the worker's crash."""
        return self._run(body, url, content_type, dict(known), retries=1)

    def _run(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        known: dict[EntryKey, str],
        retries: int,
    ) -> Deferred[ParsedFeed]:
        result: Deferred[ParsedFeed] = Deferred()
        try:
            future, generation = self._submit(body, url, content_type, known)
        except (BrokenProcessPool, RuntimeError):
            self._replace(self.generation)
            future, generation = self._submit(body, url, content_type, known)
        timed_out = []

        def on_timeout() -> None:
            timed_out.append(True)
            self.log.warn(
                "parsing {url} ran past {limit}s; restarting workers",
                url=url,
                limit=self.time_limit,
            )
            self._replace(generation)

        timer = self._reactor.callLater(self.time_limit, on_timeout)

        def deliver(done: Future[ParsedFeed]) -> None:
            if timer.active():
                timer.cancel()
            self._delivered(generation)
            if timed_out:
                result.errback(ParseTimeoutError(f"parsing took longer than {self.time_limit:g}s"))
                return
            try:
                parsed = done.result()
            except BrokenProcessPool as e:
                self._replace(generation)
                if retries > 0:
                    # Another job killed the pool; this one deserves another go.
                    self._run(body, url, content_type, known, retries - 1).chainDeferred(result)
                else:
                    result.errback(e)
                return
            except BaseException as e:
                result.errback(e)
                return
            result.callback(parsed)

        future.add_done_callback(lambda done: self._reactor.callFromThread(deliver, done))
        return result


def _processes(executor: ProcessPoolExecutor) -> list[BaseProcess]:
    """The worker processes of ``executor`` (a private attribute, read defensively)."""
    processes = getattr(executor, "_processes", None) or {}
    return list(processes.values())


class InlineParser:
    """The :class:`ParsePool` interface, parsing on the calling thread.

    For deterministic tests of the poller; the daemon always uses the pool.
    """

    def parse(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        known: Mapping[EntryKey, str],
    ) -> Deferred[ParsedFeed]:
        try:
            return succeed(parse_feed(body, url, content_type, known))
        except Exception:
            return fail()
