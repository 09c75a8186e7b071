"""WebSub over HTTP: the callbacks' answers, and the limits on a request body.

Owns the HTTP side of the callbacks at ``/websub/<id>`` (the web face routes
them here through :class:`planetd.boundaries.AnswersCallbacks`): reading a
hub's verification query and a push's body, headers (``X-Hub-Signature``,
``Link: rel=self``, ``Content-Type``) and size, and writing the status
:class:`planetd.websub.WebSubscriber` decided on. It also owns
:func:`bounded_request`, the request class of the daemon's web server: a
request body larger than the largest ``max_feed_bytes`` is never kept (the
answer is a 413), and one that takes longer than the longest
``feed_timeout`` to arrive drops the connection; so a push is held to the
limits of a fetch before any of it reaches the handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITCPTransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request

from planetd.boundaries import PlanetConfig
from planetd.websub import WebSubscriber
from planetd.websublinks import link_relations

if TYPE_CHECKING:
    from twisted.web.iweb import IRequest

log = Logger()


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("latin-1") if isinstance(value, bytes) else value


class WebSubCallbacks:
    """The answers of ``/websub/<id>``, over one :class:`WebSubscriber`."""

    def __init__(self, subscriber: WebSubscriber) -> None:
        self.subscriber = subscriber

    def answer(self, request: IRequest, callback_id: str) -> Deferred[bytes]:
        return Deferred.fromCoroutine(self._answer(request, callback_id))

    async def _answer(self, request: IRequest, callback_id: str) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        method = request.method
        if method == b"GET":
            query = {
                k.decode("utf-8", "replace"): v[0].decode("utf-8", "replace")
                for k, v in (request.args or {}).items()
                if v
            }
            verified = await self.subscriber.verify(callback_id, query)
            request.setResponseCode(verified.status)
            return verified.body
        if method != b"POST":
            request.setResponseCode(405)
            request.setHeader(b"allow", b"GET, POST")
            return b"GET or POST\n"
        limit = self.subscriber.max_body(callback_id)
        if limit is None:
            request.setResponseCode(404)
            return b"no such subscription\n"
        content = request.content
        body = content.read(limit + 1) if content is not None else b""
        if len(body) > limit:
            log.warn("WebSub: a push over {limit} bytes refused", limit=limit)
            request.setResponseCode(413)
            return b"body too large\n"
        links = request.requestHeaders.getRawHeaders("link", [])
        _, self_url = link_relations(links, self.subscriber.config.public_url or "")
        answer = await self.subscriber.push(
            callback_id,
            body,
            signature=_text(request.getHeader(b"x-hub-signature")),
            self_url=self_url,
            content_type=_text(request.getHeader(b"content-type")),
        )
        request.setResponseCode(answer.status)
        return answer.body


class _BoundedRequest(Request):
    """A request whose body is capped in size and in the time it takes to arrive."""

    max_body = 10 * 1024 * 1024
    body_timeout = 30.0
    clock: IReactorTime | None = None

    _too_big = False
    _seen = 0
    _timer: IDelayedCall | None = None

    def gotLength(self, length: int | None) -> None:
        self._too_big = length is not None and length > self.max_body
        self._base().gotLength(0 if self._too_big else length)
        if length != 0 and self.clock is not None:
            self._timer = self.clock.callLater(self.body_timeout, self._too_slow)

    def _too_slow(self) -> None:
        self._timer = None
        log.warn("a request body took over {timeout}s: dropped", timeout=self.body_timeout)
        if self.channel is not None and self.channel.transport is not None:
            cast("ITCPTransport", self.channel.transport).abortConnection()

    def handleContentChunk(self, data: bytes) -> None:
        self._seen += len(data)
        if self._seen > self.max_body:
            self._too_big = True
        if not self._too_big:
            self._base().handleContentChunk(data)

    def connectionLost(self, reason: Failure) -> None:
        self._stop_timer()
        self._base().connectionLost(reason)

    def _stop_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def process(self) -> None:
        self._stop_timer()
        if self._too_big:
            base = self._base()
            self.setResponseCode(413)
            base.setHeader(b"content-type", b"text/plain; charset=utf-8")
            base.setHeader(b"connection", b"close")
            base.write(b"body too large\n")
            base.finish()
            return
        self._base().process()

    def _base(self) -> Any:
        # twisted.web's Request methods are untyped; reached through one Any, here.
        return super()


def bounded_request(config: PlanetConfig, clock: IReactorTime) -> type[Request]:
    """The request class that holds every body to the planet's largest fetch limits."""
    sizes = [config.max_feed_bytes, *(f.max_feed_bytes for f in config.feeds)]
    times = [config.feed_timeout, *(f.feed_timeout for f in config.feeds)]
    return type(
        "BoundedRequest",
        (_BoundedRequest,),
        {"max_body": max(sizes), "body_timeout": max(times), "clock": clock},
    )
