"""Running CPU-bound parsing on every core, off the reactor thread.

Owns the process pool that :func:`planetd.parse.parse_feed` runs in (the
lxml fast path first, feedparser for what it declines): parsing and
sanitizing hold the GIL, so threads would serialize them and stall the web
server. A worker that crashes or runs past its time limit fails that feed
only: the pool is replaced and the other jobs it held are run again once.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.logger import Logger

from planetd.boundaries import EntryKey, Metrics, ParsedFeed
from planetd.nometrics import NULL_METRICS
from planetd.parse import parse_feed


class ParseTimeoutError(Exception):
    """A parse ran past its time limit."""


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
    """A process pool for parsing, recreated when a worker dies or hangs."""

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        *,
        workers: int | None = None,
        time_limit: float = 60.0,
        target: Callable[[bytes, str, str | None, dict[EntryKey, str]], ParsedFeed] = parse_feed,
        metrics: Metrics = NULL_METRICS,
    ) -> None:
        self._reactor: IReactorTime = reactor
        self._from_threads: IReactorFromThreads = reactor
        self.workers = workers or os.cpu_count() or 1
        self.time_limit = time_limit
        #: What a job runs: parse_feed, or (in tests) a module-level stand-in that crashes.
        self._target = target
        self._executor: ProcessPoolExecutor | None = None
        self.generation = 0
        self.restarts = 0
        self._metrics = metrics

    def start(self) -> None:
        """Start the workers now, so the first poll does not wait for them."""
        executor = self._pool()
        for _ in range(self.workers):
            executor.submit(_warm)

    def stop(self) -> None:
        """Stop the workers; jobs still queued are cancelled."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

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
        return self._executor

    def _replace(self, generation: int) -> None:
        """Kill the pool of ``generation`` (if still current) so the next job gets a fresh one."""
        if self._executor is None or generation != self.generation:
            return
        executor, self._executor = self._executor, None
        self.restarts += 1
        self._metrics.worker_restarted()
        processes = list(getattr(executor, "_processes", {}).values())
        for process in processes:
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

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
            executor = self._pool()
            generation = self.generation
            future = executor.submit(self._target, body, url, content_type, known)
        except (BrokenProcessPool, RuntimeError):
            self._replace(self.generation)
            executor = self._pool()
            generation = self.generation
            future = executor.submit(self._target, body, url, content_type, known)
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

        future.add_done_callback(lambda done: self._from_threads.callFromThread(deliver, done))
        return result


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
