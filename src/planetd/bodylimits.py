"""Reading an HTTP response body within the size cap, and dropping the bodies we do not want.

Owns the body half of a fetch: the ``Accept-Encoding`` planetd offers
(``gzip, deflate``), the inflation of those encodings with the cap applied to
the bytes received *and*, separately, to the bytes inflated, and the discarding
of unwanted bodies (redirects, 304s, error pages) so that a short one leaves
its connection in the pool and a long one closes it.

Why by hand, next to treq: bodies are read with ``treq.collect`` and a
collector that raises past the cap, which makes treq drop the connection. But
treq's ``HTTPClient`` always wraps its agent in Twisted's
``ContentDecoderAgent``, whose ``GzipDecoder`` inflates each chunk whole: a
20 KiB gzip bomb would become 20 MiB in memory before any collector saw it.
:class:`KeepEncodingAgent` therefore sits *under* treq, sets our own
``Accept-Encoding`` and moves ``Content-Encoding`` out of the decoder's sight,
and :class:`BodyCollector` inflates with ``zlib``'s ``max_length`` so that
inflation stops one byte past the cap. Cancelling a read (the fetch's total
timeout) drops the connection too, which ``treq.collect`` alone does not do.

Whatever runs per chunk is a length check and, for encoded bodies, one bounded
``decompress`` call. Must not import feedparser, the store or the web layer.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

import treq
from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgent, IResponse
from zope.interface import implementer

from planetd.fetcherrors import FetchError, too_large

if TYPE_CHECKING:
    from twisted.internet.interfaces import IProtocol
    from twisted.web.iweb import IBodyProducer

__all__ = [
    "ACCEPT_ENCODING",
    "BodyCollector",
    "KeepEncodingAgent",
    "discard",
    "header",
    "read_body",
]

#: The encodings planetd offers, and the only ones it will inflate.
ACCEPT_ENCODING = b"gzip, deflate"
_DECODED = frozenset({"gzip", "x-gzip", "deflate"})

#: Where :class:`KeepEncodingAgent` keeps a response's ``Content-Encoding``.
_RAW_ENCODING = b"x-planetd-content-encoding"

#: An unwanted body up to this size is read and dropped to keep its connection.
_KEEP_LIMIT = 64 * 1024


def header(response: IResponse, name: bytes) -> str | None:
    """The first value of a response header, as text, or ``None``."""
    values = response.headers.getRawHeaders(name)
    return values[0].decode("latin-1").strip() if values else None


@implementer(IAgent)
class KeepEncodingAgent:
    """An agent under treq's ``HTTPClient`` that keeps encoded bodies encoded.

    Requests go out with exactly :data:`ACCEPT_ENCODING` (treq's decoder adds
    its own ``gzip`` on the way down); answers come back with their
    ``Content-Encoding`` moved aside, so the decoder above passes them through
    and :func:`read_body` inflates them within the cap.
    """

    def __init__(self, agent: IAgent) -> None:
        self._agent = agent

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,  # noqa: N803 -- IAgent's own name
    ) -> Deferred[IResponse]:
        headers = Headers() if headers is None else headers.copy()
        headers.setRawHeaders(b"accept-encoding", [ACCEPT_ENCODING])
        return self._agent.request(method, uri, headers, bodyProducer).addCallback(_hide_encoding)


def _hide_encoding(response: IResponse) -> IResponse:
    encoding = response.headers.getRawHeaders(b"content-encoding")
    if encoding:
        response.headers.removeHeader(b"content-encoding")
        response.headers.setRawHeaders(_RAW_ENCODING, encoding)
    return response


class BodyCollector:
    """Keeps a body under ``max_bytes``, decompressing gzip/deflate as it arrives.

    The cap applies to the bytes received and, separately, to the bytes
    decompressed; ``zlib``'s ``max_length`` stops inflating one byte past the
    cap, so a gzip bomb never expands in memory. Once it has raised it raises
    at once for every later chunk (more may arrive before the connection closes).
    """

    def __init__(self, encoding: str | None, max_bytes: int) -> None:
        self._encoding = encoding
        self._max = max_bytes
        self._received = 0
        self._size = 0
        self._parts: list[bytes] = []
        self._head = b""
        self._failed: FetchError | None = None
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            # 32 + 15: a gzip or zlib header, detected automatically.
            self._zlib = zlib.decompressobj(wbits=47)

    def __call__(self, data: bytes) -> None:
        if self._failed is not None:
            raise self._failed
        try:
            self._take(data)
        except FetchError as e:
            self._failed = e
            raise

    def _take(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > self._max:
            raise too_large(self._max)
        if self._encoding is None:
            self._keep(data)
            return
        if self._zlib is None:
            # "deflate" is meant to be zlib-wrapped, but some servers send raw
            # deflate: the first two bytes tell which.
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(wbits=15 if zlib_header else -15)
        if self._zlib.eof:
            return  # trailing bytes after the stream: ignored, as browsers do
        try:
            while data:
                self._keep(self._zlib.decompress(data, self._max - self._size + 1))
                data = self._zlib.unconsumed_tail
        except zlib.error as e:
            raise FetchError(f"bad {self._encoding} body: {e}") from None

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max:
            raise too_large(self._max)
        self._parts.append(data)

    @property
    def received(self) -> int:
        """Bytes received from the network so far."""
        return self._received

    def body(self) -> bytes:
        """The whole (decompressed) body, once the response has ended."""
        if self._encoding is not None and self._received and not (self._zlib and self._zlib.eof):
            raise FetchError(f"{self._encoding} body ends early")
        return b"".join(self._parts)


async def read_body(response: IResponse, max_bytes: int) -> bytes:
    """The body of a ``2xx`` answer, inflated, within ``max_bytes`` both ways.

    Raises:
        FetchError: the body is too large (announced, received or inflated),
            its encoding is one we never offered, its stream is broken or
            ends early, or the connection is lost while reading it.
    """
    encoding = (header(response, _RAW_ENCODING) or "identity").lower()
    if encoding not in _DECODED and encoding != "identity":
        await discard(response, keep=False)
        raise FetchError(f"unsupported Content-Encoding: {encoding}")
    length = response.length
    if length is not UNKNOWN_LENGTH and cast(int, length) > max_bytes:
        await discard(response, keep=False)
        raise too_large(max_bytes)
    collector = BodyCollector(None if encoding == "identity" else encoding, max_bytes)
    done, _ = _collect(response, collector)
    try:
        await done
    except (FetchError, CancelledError):
        raise
    except Exception:
        raise FetchError("connection lost while reading the body") from None
    return collector.body()


class _UnwantedBodyError(Exception):
    """An unwanted body longer than is worth reading to keep its connection."""


def discard(response: IResponse, *, keep: bool = True) -> Deferred[None]:
    """Drop a body we will not read; ``keep=False`` closes its connection at once.

    Twisted pauses a connection until its response body is delivered somewhere,
    so every response must be read or dropped. A body up to 64 KiB is read so
    the connection can go back to the pool; a longer one closes it. Fires once
    the body is settled; only a cancellation (the fetch's timeout) fails it.
    """
    left = _KEEP_LIMIT if keep else 0

    def skip(data: bytes) -> None:
        nonlocal left
        left -= len(data)
        if left < 0:
            raise _UnwantedBodyError()

    done, handed = _collect(response, skip)
    if not keep:
        handed.drop()
    return done.addErrback(_settled)


def _settled(failure: Failure) -> None:
    """An unwanted body ended either way; only a cancellation goes on up."""
    if failure.check(CancelledError):
        failure.raiseException()


class _Closable(Protocol):
    def loseConnection(self) -> None: ...


class _Handed:
    """A response whose body, once handed to ``treq.collect``, can still be dropped.

    ``treq.collect`` reads only ``length`` and ``deliverBody``; the protocol it
    delivers to is connected inside ``deliverBody``, so its transport is ours
    to close from then on.
    """

    def __init__(self, response: IResponse) -> None:
        self._response = response
        self._transport: _Closable | None = None

    @property
    def length(self) -> int | object:
        length: int | object = self._response.length
        return length

    def deliverBody(self, protocol: IProtocol) -> None:
        self._response.deliverBody(protocol)
        self._transport = getattr(protocol, "transport", None)

    def drop(self) -> None:
        """Close the body's connection (a no-op once the body has ended)."""
        if self._transport is not None:
            self._transport.loseConnection()


def _collect(
    response: IResponse, collector: Callable[[bytes], None]
) -> tuple[Deferred[None], _Handed]:
    """``treq.collect``, whose Deferred also drops the connection when cancelled."""
    handed = _Handed(response)
    done: Deferred[None] = Deferred(lambda _: handed.drop())

    def settle(result: object) -> None:
        # After a cancellation the body still ends (connection lost): ignore that.
        if done.called:
            return
        if isinstance(result, Failure):
            done.errback(result)
        else:
            done.callback(None)

    treq.collect(cast(IResponse, handed), collector).addBoth(settle)
    return done, handed
