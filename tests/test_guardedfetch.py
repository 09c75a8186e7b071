"""The preview fetch of a suggested feed over real sockets: it connects only where allowed.

A real ``twisted.web`` server on 127.0.0.1 serves a feed and redirects; a test
resolver maps host names to addresses (``feeds.test`` to 10.0.0.1, as a
rebinding name would). Where a test needs a "public" server, its policy
counts 127.0.0.1 as public and judges every other address as the daemon does.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from zope.interface import implementer

from feeds import atom
from planetd.guardedfetch import preview
from planetd.submissions import address_problem

reactor: Any = _reactor

FEED = atom(
    "Guarded Feed",
    "https://guarded.example/",
    [
        ("tag:g,2026:1", "Older post", "2026-07-01T10:00:00Z", "<p>a</p>"),
        ("tag:g,2026:2", "Newest post", "2026-07-02T10:00:00Z", "<p>b</p>"),
    ],
).encode()


@implementer(IHostnameResolver)
class MapResolver:
    """Resolves the names it was given, once each call, to their one address."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> IResolutionReceiver:
        self.asked.append(hostName)
        resolutionReceiver.resolutionBegan(None)
        if hostName in self.names:
            address = IPv4Address("TCP", self.names[hostName], portNumber)
            resolutionReceiver.addressResolved(address)
        resolutionReceiver.resolutionComplete()
        return resolutionReceiver


def loopback_is_public(address: str) -> str | None:
    """The daemon's policy, with the test server's 127.0.0.1 standing for the internet."""
    return None if address == "127.0.0.1" else address_problem(address)


class Server(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.hosts: list[bytes | None] = []

    def render_GET(self, request: Request) -> bytes:
        self.hosts.append(request.getHeader(b"host"))
        path = request.path.decode()
        targets = {
            "/to-private": "http://10.0.0.1/feed",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-name": f"http://feeds.test:{self.port}/feed.atom",
        }
        if path in targets:
            request.setResponseCode(302)
            request.setHeader(b"location", targets[path].encode())
            return b""
        request.setHeader(b"content-type", b"application/atom+xml")
        return FEED


class GuardedPreviewTests(unittest.TestCase):
    timeout = 20

    def setUp(self) -> None:
        self.server = Server()
        self.port = reactor.listenTCP(0, Site(self.server), interface="127.0.0.1")
        self.server.port = self.port.getHost().port
        self.addCleanup(self.port.stopListening)
        self.resolver = MapResolver({"good.test": "127.0.0.1", "feeds.test": "10.0.0.1"})

    async def look(self, url: str, **kw: Any) -> tuple[Any, str | None]:
        options: dict[str, Any] = {"allow_private": False, "resolver": self.resolver}
        options.update(kw)
        return await preview(
            reactor, url, user_agent="planetd-test", timeout=10, max_bytes=1 << 20, **options
        )

    def url(self, path: str, host: str = "good.test") -> str:
        return f"http://{host}:{self.server.port}{path}"

    async def test_a_public_feed_is_previewed_through_the_judged_address(self) -> None:
        """The name is resolved once, the connection goes to that address, and the
        request still names the host: the preview has the title and newest entries."""
        shown, refused = await self.look(self.url("/feed.atom"), policy=loopback_is_public)
        assert refused is None
        assert shown.parsed and shown.title == "Guarded Feed"
        assert shown.entries == ("Newest post", "Older post")
        assert self.server.hosts == [f"good.test:{self.server.port}".encode()]
        assert self.resolver.asked == ["good.test"]

    async def test_a_name_resolving_to_a_private_address_is_refused(self) -> None:
        """``feeds.test`` resolves to 10.0.0.1: refused before connecting, saying so."""
        shown, refused = await self.look(self.url("/feed.atom", "feeds.test"))
        assert refused is not None
        assert "feeds.test: 10.0.0.1 is a private address" in refused
        assert not shown.parsed
        assert self.server.hosts == []

    async def test_loopback_is_refused_unless_private_feeds_are_allowed(self) -> None:
        """http://127.0.0.1/ is refused as loopback; allow_private_feeds = yes lets it in."""
        shown, refused = await self.look(self.url("/feed.atom", "127.0.0.1"))
        assert refused is not None and "loopback" in refused
        assert self.server.hosts == []
        shown, refused = await self.look(self.url("/feed.atom", "127.0.0.1"), allow_private=True)
        assert refused is None and shown.parsed

    async def test_a_redirect_to_a_private_address_is_refused(self) -> None:
        """A public server that redirects to 10.0.0.1, to the metadata address, or to a
        name resolving to a private address: each hop is judged, the preview refused."""
        for path, says in (
            ("/to-private", "10.0.0.1 is a private address"),
            ("/to-metadata", "169.254.169.254 is the cloud metadata address"),
            ("/to-name", "feeds.test: 10.0.0.1 is a private address"),
        ):
            shown, refused = await self.look(self.url(path), policy=loopback_is_public)
            assert refused is not None and says in refused, (path, refused)
            assert not shown.parsed
