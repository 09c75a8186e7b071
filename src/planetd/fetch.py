"""Fetching one feed over HTTP(S) or from a ``file:`` URL, as a :class:`FetchResult`.

Owns the fetch as a sequence: the request planetd sends (User-Agent,
Accept, conditional headers; ``Accept-Encoding`` is
:mod:`planetd.bodylimits`'), redirects, the total time limit, and the
mapping of every way an answer can end to a :class:`FetchKind`. The returned
Deferred never fails for a feed's own misbehaviour; only a bug reaches
``log.failure`` (and still becomes a ``FAILED`` result).

HTTP goes through treq: a ``treq.client.HTTPClient`` over our own ``Agent``
and persistent ``HTTPConnectionPool`` (Twisted's default of two cached
connections per host), with a cookie jar that keeps nothing, since a feed
poll carries no session. What treq cannot do stays here or beside it, by hand:

* **Redirects are followed here**, one request at a time
  (``allow_redirects=False``): treq's following (Twisted's ``RedirectAgent``)
  takes every hop itself, with its own limit and errors, so planetd could not
  tell the permanent hops (301/308) from the temporary ones (302/307) as it
  goes, refuse a loop or a non-HTTP target in its own words, or stop after
  :data:`MAX_REDIRECTS`.
* **The decompressed-size cap** lives in :mod:`planetd.bodylimits`: treq
  always wraps its agent in ``ContentDecoderAgent``, which inflates gzip
  without any bound (a gzip bomb would fill memory), so our agent keeps
  bodies encoded past it and our collector inflates them within the cap.
* **The total time limit** is one timer per fetch over connecting, every
  redirect, headers and the whole body; treq's ``timeout=`` stops at the
  headers (a server dripping a byte a second would never end), so it is not
  used. ``reactor=`` is passed on every request all the same, so treq never
  reaches for the global reactor.
* **IPv6 literal hosts** (``http://[::1]/``) are converted to a URI here:
  treq's conversion IDNA-encodes the host and fails on them.

Decisions worth knowing:

* ``moved_to`` is the URL reached through the *leading* permanent redirects
  (301/308) of the chain, and is only reported when the fetch succeeds
  (``OK`` or ``NOT_MODIFIED``): a feed moves only to a place that answers.
  ``A -301-> B -302-> C (200)`` gives ``moved_to=B``; ``A -302-> B -301-> C``
  gives ``None``. At most :data:`MAX_REDIRECTS` are followed.
* Redirects go to ``http:``/``https:`` only: a feed may never send us to a
  ``file:`` URL.
* ``429`` and ``503`` are ``THROTTLED`` (with ``Retry-After``), ``410`` is
  ``GONE``; this is the one place that maps status codes to kinds.
* A 304 keeps the stored validators where it names none
  (:func:`planetd.decide.merge_validators`).
* A 200 with an empty body is ``FAILED "empty response body"``.
* ``file:`` feeds are read on a thread pool (:mod:`planetd.fetchfile`).

It decides nothing else: it does not parse, compare body hashes, schedule the
next poll or cap concurrency per host (the poller does). It takes its reactor,
connection pool and thread pool as arguments and never touches the global
reactor. Must not import feedparser, the store or the web layer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import datetime, timezone
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, cast
from urllib.parse import urljoin, urlsplit

import attrs
from hyperlink import EncodedURL
from treq.client import HTTPClient
from treq.cookies import IndexableCookieJar
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers

from planetd.bodylimits import KeepEncodingAgent, discard, header, read_body
from planetd.boundaries import FetchKind, FetchResult, Validators
from planetd.configvalues import file_path
from planetd.decide import merge_validators
from planetd.fetcherrors import FetchError, check_http_url, describe, status_line, was_cancelled
from planetd.fetchfile import fetch_file
from planetd.hints import parse_freshness, parse_retry_after
from planetd.websublinks import link_relations

if TYPE_CHECKING:
    from treq._types import _ITreqReactor
    from twisted.python.threadpool import ThreadPool
    from twisted.web.iweb import IAgentEndpointFactory, IResponse

    from planetd.boundaries import Fetches, FetchReactor

__all__ = ["ACCEPT", "MAX_REDIRECTS", "Fetcher"]

log = Logger()

#: What we ask for: feed formats first, anything at all last (servers lie about types).
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, application/feed+json;q=0.7, */*;q=0.1"
)
#: Redirects followed before giving up; the sixth redirect answer fails the fetch.
MAX_REDIRECTS = 5

_PERMANENT = frozenset({301, 308})
_TEMPORARY = frozenset({302, 303, 307})
_THROTTLED = frozenset({429, 503})


class Fetcher:
    """Fetches feeds for planetd: one instance per daemon, shared by every poll.

    Args:
        reactor: Connects (TCP/TLS), times the limit and hands ``file:`` reads to threads.
        user_agent: The ``User-Agent`` header, e.g. ``"planetd/1.0 (+https://...)"``.
        pool: The HTTP connection pool; a persistent one is made if not given
            (close it with :meth:`close`).
        threadpool: Where ``file:`` feeds are read; the reactor's own pool by default.
        resolve_file: Maps a ``file:`` URL to a path; by default relative paths
            resolve against the current directory. The daemon passes
            ``lambda url: config.file_path(url, config.path)``.
        endpoints: Makes the ``Agent``'s connections (default: Twisted's own); the
            preview of a suggested feed passes one that checks every address
            (:class:`planetd.guardedfetch.GuardedEndpoints`).
    """

    def __init__(
        self,
        reactor: FetchReactor,
        user_agent: str,
        *,
        pool: HTTPConnectionPool | None = None,
        threadpool: ThreadPool | None = None,
        resolve_file: Callable[[str], str] | None = None,
        endpoints: IAgentEndpointFactory | None = None,
    ) -> None:
        self._reactor = reactor
        self._user_agent = user_agent.encode("latin-1", "replace")
        if pool is None:
            pool = HTTPConnectionPool(reactor, persistent=True)
        self._pool = pool
        agent = (
            Agent(reactor, pool=pool)
            if endpoints is None
            else Agent.usingEndpointFactory(reactor, endpoints, pool=pool)
        )
        self._client = HTTPClient(
            KeepEncodingAgent(agent),
            cookiejar=IndexableCookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        self._threadpool = threadpool
        cwd_config = os.path.join(os.getcwd(), "planet.ini")
        self._resolve_file = resolve_file or (lambda url: file_path(url, cwd_config))

    def close(self) -> Deferred[None]:
        """Close idle pooled connections (call when the service stops)."""
        return cast("Deferred[None]", self._pool.closeCachedConnections())

    def fetch(
        self, url: str, validators: Validators, *, timeout: float, max_bytes: int
    ) -> Deferred[FetchResult]:
        """Fetch ``url`` once, conditionally on ``validators``, within ``timeout`` seconds.

        The Deferred always fires with a :class:`FetchResult`, never with a
        failure. ``timeout`` covers everything: connecting, every redirect,
        headers and the whole body (a server that drips a byte a second fails
        at ``timeout``). ``max_bytes`` caps the body as received and as
        decompressed.
        """
        started = self._reactor.seconds()
        if url.startswith("file:"):
            threadpool = self._threadpool or self._reactor.getThreadPool()
            work = fetch_file(
                self._reactor, threadpool, url, self._resolve_file, validators, max_bytes
            )
        else:
            work = Deferred.fromCoroutine(self._fetch_http(url, validators, max_bytes))
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            work.cancel()

        timer = self._reactor.callLater(timeout, expire)

        def finish(outcome: FetchResult | Failure) -> FetchResult:
            if timer.active():
                timer.cancel()
            if isinstance(outcome, Failure):
                if expired and isinstance(outcome.value, CancelledError):
                    outcome = FetchResult(
                        kind=FetchKind.FAILED, error=f"timed out after {timeout:g}s", final_url=url
                    )
                else:
                    log.failure("Fetching {url} failed unexpectedly", outcome, url=url)
                    outcome = FetchResult(
                        kind=FetchKind.FAILED,
                        error=f"internal error: {outcome.getErrorMessage()}",
                        final_url=url,
                    )
            return attrs.evolve(outcome, elapsed=self._reactor.seconds() - started)

        return work.addBoth(finish)

    # -- the request sequence --------------------------------------------------

    def _headers(self, validators: Validators) -> Headers:
        # Accept-Encoding is KeepEncodingAgent's: it offers what bodylimits inflates.
        headers = Headers({b"User-Agent": [self._user_agent], b"Accept": [ACCEPT.encode("ascii")]})
        for name, value in (
            (b"If-None-Match", validators.etag),
            (b"If-Modified-Since", validators.last_modified),
        ):
            safe = _header_safe(value)
            if safe is not None:
                headers.addRawHeader(name, safe)
        return headers

    def _request(self, url: str, headers: Headers) -> Deferred[IResponse]:
        answer = self._client.request(
            "GET",
            _request_url(url),
            headers=headers,
            allow_redirects=False,
            unbuffered=True,
            # treq's type for "a reactor that connects and keeps time"; FetchReactor is that.
            reactor=cast("_ITreqReactor", self._reactor),
        )
        # treq's _Response proxies IResponse (zope's proxyForInterface, opaque to mypy).
        return cast("Deferred[IResponse]", answer)

    async def _fetch_http(self, url: str, validators: Validators, max_bytes: int) -> FetchResult:
        headers = self._headers(validators)
        current = url
        seen = {url}
        moved_to: str | None = None
        all_permanent = True
        redirects = 0
        while True:
            problem = check_http_url(current)
            if problem is not None:
                return FetchResult(kind=FetchKind.FAILED, error=problem, final_url=current)
            try:
                response = await self._request(current, headers)
            except CancelledError:
                raise
            except Exception as e:  # refused, DNS, TLS, reset: the feed's problem, as data
                if was_cancelled(e):
                    raise CancelledError() from e
                return FetchResult(
                    kind=FetchKind.FAILED, error=describe(e, current), final_url=current
                )
            code = response.code
            if code not in _PERMANENT and code not in _TEMPORARY:
                break
            await discard(response)
            location = header(response, b"location")
            if not location:
                return _failed(response, current, f"{_status(response)} without a Location")
            target = urljoin(current, location)
            if urlsplit(target).scheme not in ("http", "https"):
                return _failed(response, current, f"redirect to a non-HTTP URL: {target}")
            if target in seen:
                return _failed(response, current, "redirect loop")
            redirects += 1
            if redirects > MAX_REDIRECTS:
                return _failed(response, current, "too many redirects")
            seen.add(target)
            if code in _PERMANENT and all_permanent:
                moved_to = target
            else:
                all_permanent = False
            current = target

        result = await self._answer(response, current, validators, max_bytes)
        if result.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED):
            result = attrs.evolve(result, moved_to=moved_to)
        return result

    async def _answer(
        self, response: IResponse, url: str, validators: Validators, max_bytes: int
    ) -> FetchResult:
        """The final (non-redirect) answer as a result; reads the body of a 2xx only."""
        code = response.code
        if 200 <= code < 300:
            try:
                body = await read_body(response, max_bytes)
            except FetchError as e:
                return _failed(response, url, str(e))
            if not body:
                return _failed(response, url, "empty response body")
            result = FetchResult(
                kind=FetchKind.OK,
                http_status=code,
                body=body,
                content_type=header(response, b"content-type"),
                validators=Validators(
                    etag=header(response, b"etag"),
                    last_modified=header(response, b"last-modified"),
                    body_hash=hashlib.sha256(body).hexdigest(),
                ),
                final_url=url,
                fresh_for=self._freshness(response),
            )
            hub, self_url = link_relations(response.headers.getRawHeaders("link", []), url)
            return attrs.evolve(result, hub=hub, self_url=self_url) if hub else result
        await discard(response)
        if code == 304:
            answered = Validators(
                etag=header(response, b"etag"), last_modified=header(response, b"last-modified")
            )
            return FetchResult(
                kind=FetchKind.NOT_MODIFIED,
                http_status=code,
                validators=merge_validators(validators, answered),
                final_url=url,
                fresh_for=self._freshness(response),
            )
        if code == 410:
            return FetchResult(
                kind=FetchKind.GONE, http_status=code, error=_status(response), final_url=url
            )
        if code in _THROTTLED:
            return FetchResult(
                kind=FetchKind.THROTTLED,
                http_status=code,
                error=_status(response),
                final_url=url,
                retry_after=parse_retry_after(header(response, b"retry-after"), self._now()),
            )
        return _failed(response, url, _status(response))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._reactor.seconds(), tz=timezone.utc)

    def _freshness(self, response: IResponse) -> float | None:
        return parse_freshness(
            header(response, b"cache-control"),
            header(response, b"expires"),
            header(response, b"date"),
            self._now(),
        )


def _status(response: IResponse) -> str:
    return status_line(response.code, response.phrase)


def _failed(response: IResponse, url: str, error: str) -> FetchResult:
    return FetchResult(kind=FetchKind.FAILED, http_status=response.code, error=error, final_url=url)


def _header_safe(value: str | None) -> bytes | None:
    """A stored validator as a header value, or ``None`` if it could not be sent safely."""
    if not value or "\r" in value or "\n" in value:
        return None
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


class _AsURI(EncodedURL):
    """A URL already in URI form, which treq sends as it is."""

    def to_uri(self) -> _AsURI:
        return self


def _request_url(url: str) -> str | EncodedURL:
    """``url`` as treq should get it: as text, unless its host is an IPv6 literal.

    treq makes every URL a URI with hyperlink's ``to_uri()``, which IDNA-encodes
    the host and fails on ``[::1]`` (python-hyper/hyperlink#68); for such a host
    the rest of the URL is converted here and the host kept as it is.
    """
    parsed = EncodedURL.from_text(url)
    if ":" not in parsed.host:
        return url
    uri = parsed.replace(host="").to_uri()
    return _AsURI.from_text(uri.replace(host=parsed.host).to_text())


if TYPE_CHECKING:
    from twisted.internet.posixbase import PosixReactorBase

    def _fetcher_fetches(fetcher: Fetcher) -> Fetches:
        """Static check: the poller's seam, :class:`planetd.boundaries.Fetches`, fits."""
        return fetcher

    def _reactor_fits(reactor: PosixReactorBase) -> FetchReactor:
        """Static check: a real reactor is a :class:`planetd.boundaries.FetchReactor`."""
        return reactor
