"""The preview fetch of a suggested feed: only to public addresses, checked where it connects.

Owns the one rule that keeps ``/submit`` from becoming a way into the
daemon's network: every connection of a preview goes to an address that
:func:`planetd.submissions.address_problem` accepts, and to no other. The
check sits in the connection itself (:class:`GuardedEndpoints`, the
``IAgentEndpointFactory`` of the fetcher's ``Agent``): the host name is
resolved once, every address it resolves to is judged, and the TCP
connection goes to that judged IP (TLS still names the host, for SNI and the
certificate; the ``Host`` header is the URL's). So there is no DNS
rebinding window between a check and a second lookup, and every redirect
hop, being a new connection, is checked the same way. A refusal is recorded
(:attr:`GuardedEndpoints.refused`) so the submitter is told why.

:func:`preview` fetches with the fetcher's own limits (:class:`planetd.fetch.Fetcher`:
redirects, size cap, total timeout), parses off the reactor thread, and
returns the :class:`planetd.boundaries.Preview` a moderator sees. A part of
the fetch shell; decides nothing beyond asking the policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.internet.interfaces import (
    IHostnameResolver,
    IResolutionReceiver,
    IStreamClientEndpoint,
)
from twisted.internet.threads import deferToThreadPool
from twisted.web.client import BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from planetd.boundaries import FetchKind, Preview, Validators
from planetd.fetch import Fetcher
from planetd.parse import parse_feed
from planetd.submissions import address_problem, is_ip_literal, preview_of

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress, IHostResolution, IProtocol, IProtocolFactory
    from twisted.web.client import URI

    from planetd.boundaries import IDaemonReactor


class AddressRefusedError(ConnectError):
    """A connection the address policy forbids."""

    def __init__(self, reason: str) -> None:
        super().__init__(string=reason)  # type: ignore[no-untyped-call]  # Twisted's
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


@implementer(IResolutionReceiver)
class _Addresses:
    """Collects a resolution's addresses into a Deferred."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.done: Deferred[list[str]] = Deferred()

    def resolutionBegan(self, resolutionInProgress: IHostResolution) -> None:  # noqa: N803 -- Twisted names it
        pass

    def addressResolved(self, address: IAddress) -> None:
        host = getattr(address, "host", None)
        if isinstance(host, str):
            self.found.append(host)

    def resolutionComplete(self) -> None:
        self.done.callback(self.found)


@implementer(IAgentEndpointFactory)
class GuardedEndpoints:
    """Endpoints that connect only to addresses the policy accepts.

    Args:
        reactor: Connects (TCP) and, unless ``resolver`` is given, resolves names.
        allow_private: The config's ``allow_private_feeds``.
        resolver: Resolves host names (the tests map a name to a private address).
        policy: Why an address is refused, or None (default: the config's policy,
            :func:`planetd.submissions.address_problem`).
    """

    def __init__(
        self,
        reactor: IDaemonReactor,
        *,
        allow_private: bool,
        resolver: IHostnameResolver | None = None,
        policy: Callable[[str], str | None] | None = None,
    ) -> None:
        self.reactor = reactor
        self.policy = policy or (lambda address: address_problem(address, allow_private))
        self.resolver: IHostnameResolver = resolver or reactor.nameResolver
        self.tls = BrowserLikePolicyForHTTPS()
        #: Why the last refused connection was refused (None: none was).
        self.refused: str | None = None

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        return _GuardedEndpoint(self, uri.scheme, uri.host, uri.port)

    async def address_for(self, host: str, port: int) -> str:
        """The one address to connect to for ``host``: resolved once, every answer judged."""
        if is_ip_literal(host):
            found = [host]
        else:
            receiver = _Addresses()
            self.resolver.resolveHostName(receiver, host, port)
            found = await receiver.done
        if not found:
            raise DNSLookupError(host)
        for address in found:
            problem = self.policy(address)
            if problem is not None:
                self.refused = problem if address == host else f"{host}: {problem}"
                raise AddressRefusedError(self.refused)
        return found[0]


@implementer(IStreamClientEndpoint)
class _GuardedEndpoint:
    """One URI's endpoint: resolve, judge, then connect to the judged address."""

    def __init__(self, guard: GuardedEndpoints, scheme: bytes, host: bytes, port: int) -> None:
        self.guard = guard
        self.scheme = scheme
        self.host = host.decode("ascii", "replace").strip("[]")
        self.port = port

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        return Deferred.fromCoroutine(self._connect(factory))

    async def _connect(self, factory: IProtocolFactory) -> IProtocol:
        guard = self.guard
        address = await guard.address_for(self.host, self.port)
        endpoint: IStreamClientEndpoint
        if ":" in address:
            endpoint = TCP6ClientEndpoint(guard.reactor, address, self.port, timeout=30)
        else:
            endpoint = TCP4ClientEndpoint(guard.reactor, address, self.port, timeout=30)
        if self.scheme == b"https":
            creator = guard.tls.creatorForNetloc(self.host.encode("idna"), self.port)
            endpoint = wrapClientTLS(creator, endpoint)
        protocol: IProtocol = await endpoint.connect(factory)
        return protocol


async def preview(
    reactor: IDaemonReactor,
    url: str,
    *,
    user_agent: str,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
    resolver: IHostnameResolver | None = None,
    policy: Callable[[str], str | None] | None = None,
) -> tuple[Preview, str | None]:
    """Fetch and read ``url`` as a preview: the :class:`Preview`, and why the address
    policy refused a connection on the way (None if it refused none).

    Each preview has its own guard and a connection pool that keeps nothing, so
    no connection checked for one URL serves another.
    """
    guard = GuardedEndpoints(reactor, allow_private=allow_private, resolver=resolver, policy=policy)
    pool = HTTPConnectionPool(reactor, persistent=False)
    fetcher = Fetcher(reactor, user_agent, pool=pool, endpoints=guard)
    try:
        result = await fetcher.fetch(url, Validators(), timeout=timeout, max_bytes=max_bytes)
    finally:
        await fetcher.close()
    if guard.refused is not None:
        return Preview(parsed=False, error=guard.refused), guard.refused
    if result.kind is not FetchKind.OK or result.body is None:
        return preview_of(None, result.error or f"fetch ended as {result.kind.value}"), None
    body, final, content_type = result.body, result.final_url or url, result.content_type
    parsed = await deferToThreadPool(
        reactor, reactor.getThreadPool(), parse_feed, body, final, content_type
    )
    return preview_of(parsed, None), None
