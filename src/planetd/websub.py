"""WebSub, the executing half: subscription requests to hubs, and the hubs' callbacks.

Owns sequencing only. :class:`WebSubscriber` keeps each feed's subscription
in memory (as the store keeps it), hears every finished poll (the hub and
topic its document named), and, on a timer and after each change, asks
:func:`planetd.websubplan.plan_websub` what to do and does it: save the row,
POST the request to the hub (:class:`HubClient`), record the hub's answer.
It answers the hubs' callbacks (verification GETs and content POSTs,
reached through :mod:`planetd.websubweb`) with what
:mod:`planetd.websubplan` decides, and hands an accepted body to the poll
path (:class:`planetd.boundaries.TakesPushes`), which parses, plans and
stores it exactly as a fetched document. It tells the poller how to poll a
pushed feed (:meth:`WebSubscriber.tune`). Nothing here decides.

Must not import another shell; the composition root hands it the store, the
poll path and a :class:`HubClient`.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol, cast

import attrs
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.http_headers import Headers

from planetd.boundaries import (
    FeedConfig,
    FeedURL,
    PlanetConfig,
    PollReport,
    StoresSubscriptions,
    Subscription,
    TakesPushes,
    WebSubState,
)
from planetd.websublinks import Discovery
from planetd.websubplan import (
    FORGET,
    SAVE,
    UNSUBSCRIBE,
    Intent,
    PushVerdict,
    Verification,
    after_request,
    answer_verification,
    callback_url,
    judge_push,
    plan_websub,
    tuned,
)

if TYPE_CHECKING:
    from treq._types import _ITreqReactor
    from treq.client import HTTPClient

#: Seconds between two looks at every subscription (renewals, retries, lapses).
CHECK_EVERY = 60.0


class AsksHubs(Protocol):
    """What the subscriber needs of HTTP: one form POST to a hub, ending as data."""

    def ask(
        self, hub: str, form: Mapping[str, str], *, timeout: float
    ) -> Deferred[tuple[int | None, str | None]]:
        """The hub's status code, or None and why the request failed."""
        ...


class HubClient:
    """Subscription requests over treq: ``application/x-www-form-urlencoded`` POSTs."""

    def __init__(self, reactor: IReactorTime, client: HTTPClient, user_agent: str) -> None:
        self._reactor = reactor
        self._client = client
        self._user_agent = user_agent

    def ask(
        self, hub: str, form: Mapping[str, str], *, timeout: float
    ) -> Deferred[tuple[int | None, str | None]]:
        return Deferred.fromCoroutine(self._ask(hub, form, timeout))

    async def _ask(
        self, hub: str, form: Mapping[str, str], timeout: float
    ) -> tuple[int | None, str | None]:
        import treq

        try:
            response = await self._client.post(
                hub,
                data=dict(form),
                headers=Headers({b"User-Agent": [self._user_agent.encode("utf-8")]}),
                timeout=timeout,
                # treq's type for "a reactor that connects and keeps time".
                reactor=cast("_ITreqReactor", self._reactor),
            )
            body = await treq.content(response)
        except Exception as e:
            return None, f"asking the hub failed: {type(e).__name__}: {e}"[:300]
        code = int(response.code)
        if 200 <= code < 300:
            return code, None
        text = body[:200].decode("utf-8", "replace").strip()
        return code, f"the hub answered HTTP {code}" + (f": {text}" if text else "")


@attrs.frozen
class PushAnswer:
    """What the callback answers a hub's POST."""

    status: int
    body: bytes


class WebSubscriber:
    """A planet's WebSub subscriptions, kept, renewed and answered for.

    Args:
        config: The planet (``public_url``, ``websub_lease``, its feeds).
        store: Where subscriptions are kept.
        pushes: The poll path a pushed document goes through.
        hubs: How requests reach hubs.
        reactor: The clock (renewals, lease expiry, the check timer).
        mint: A source of unguessable tokens (secrets and callback ids).
    """

    log = Logger()

    def __init__(
        self,
        config: PlanetConfig,
        store: StoresSubscriptions,
        pushes: TakesPushes,
        hubs: AsksHubs,
        reactor: IReactorTime,
        *,
        mint: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    ) -> None:
        self.config = config
        self.store = store
        self.pushes = pushes
        self.hubs = hubs
        self.reactor = reactor
        self.mint = mint
        self.subs: dict[FeedURL, Subscription] = {}
        self.found: dict[FeedURL, Discovery] = {}
        self._asking: set[FeedURL] = set()
        self._loop: LoopingCall | None = None
        self._soon: IDelayedCall | None = None

    # -- lifecycle -------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.reactor.seconds(), tz=timezone.utc)

    async def load(self) -> None:
        """Read the stored subscriptions (callbacks are answered from then on)."""
        self.subs = {s.feed_url: s for s in await self.store.subscriptions()}

    def start(self) -> None:
        """Look at every subscription now and every :data:`CHECK_EVERY` seconds."""
        loop = LoopingCall(self.check)
        loop.clock = self.reactor
        self._loop = loop
        loop.start(CHECK_EVERY, now=True).addErrback(
            lambda f: self.log.failure("the WebSub check loop stopped", f)
        )

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._soon is not None and self._soon.active():
            self._soon.cancel()
        self._soon = None

    def reconfigure(self, config: PlanetConfig) -> None:
        """Take a new config (a feed that left it is unsubscribed at the next check).

        ``public_url`` and ``websub`` stay as started: the callbacks hubs know live there.
        """
        self.config = attrs.evolve(
            config, public_url=self.config.public_url, websub=self.config.websub
        )
        self._check_soon()

    # -- the poll path's hooks ---------------------------------------------------------

    def tune(self, feed: FeedConfig) -> FeedConfig:
        """The feed as a poll uses it: a pushed feed is polled at ``max_interval``."""
        return tuned(feed, self.subs.get(feed.url), self.now(), self.config.max_interval)

    def heard(self, report: PollReport) -> None:
        """A poll (or push) finished: remember the hub its document named, if new."""
        if report.hub is None or report.topic is None:
            return
        found = Discovery(hub=report.hub, topic=report.topic)
        if self.found.get(report.url) != found:
            self.found[report.url] = found
            self._check_soon()

    # -- deciding and doing --------------------------------------------------------------

    async def _keep(self, sub: Subscription) -> None:
        """Store ``sub`` as its feed's row; a feed whose push stopped is polled as usual."""
        before = self.subs.get(sub.feed_url)
        await self.store.save_subscription(sub)
        self.subs[sub.feed_url] = sub
        was = before is not None and before.state is WebSubState.ACTIVE
        if was and sub.state is not WebSubState.ACTIVE:
            feed = next((f for f in self.config.feeds if f.url == sub.feed_url), None)
            if feed is not None:
                self.pushes.poll_within(sub.feed_url, feed.poll_interval)

    def _check_soon(self) -> None:
        if self._loop is None or (self._soon is not None and self._soon.active()):
            return
        self._soon = self.reactor.callLater(0, self.check)

    def check(self) -> Deferred[None]:
        """Plan every subscription's next step at this moment and carry the steps out."""
        intents = plan_websub(
            [f.url for f in self.config.feeds],
            self.found,
            self.subs,
            now=self.now(),
            lease=self.config.websub_lease,
            mint=self.mint,
        )
        steps = [i for i in intents if i.subscription.feed_url not in self._asking]
        for intent in steps:
            self._asking.add(intent.subscription.feed_url)
        done = [Deferred.fromCoroutine(self._carry_out(i)) for i in steps]
        return gatherResults(done, consumeErrors=True).addCallback(lambda _: None)

    async def _carry_out(self, intent: Intent) -> None:
        sub = intent.subscription
        url = sub.feed_url
        try:
            if intent.action is FORGET:
                await self.store.forget_subscription(url)
                self.subs.pop(url, None)
                self.log.info("WebSub: forgot the subscription of {url}", url=url)
                return
            await self._keep(sub)
            if intent.action is SAVE:
                self.log.info("WebSub: {url} is now {state}", url=url, state=sub.state.value)
                return
            mode = "unsubscribe" if intent.action is UNSUBSCRIBE else "subscribe"
            public = self.config.public_url or ""
            form = {
                "hub.mode": mode,
                "hub.topic": sub.topic,
                "hub.callback": callback_url(public, sub.callback_id),
            }
            if mode == "subscribe":
                form["hub.secret"] = sub.secret
                form["hub.lease_seconds"] = str(int(self.config.websub_lease))
            status, error = await self.hubs.ask(sub.hub, form, timeout=self.config.feed_timeout)
            current = self.subs.get(url)
            if current is None or current.callback_id != sub.callback_id:
                return
            answered = after_request(current, status, error)
            self.log.info(
                "WebSub: asked {hub} to {mode} {url}: {outcome}",
                hub=sub.hub,
                mode=mode,
                url=url,
                outcome=error or f"HTTP {status}",
            )
            if answered != current:
                await self._keep(answered)
        except Exception:
            self.log.failure("WebSub: a step for {url} failed", url=url)
        finally:
            self._asking.discard(url)

    # -- the callbacks -----------------------------------------------------------------

    def _by_id(self, callback_id: str) -> Subscription | None:
        """The subscription a callback id names (compared in constant time, every one)."""
        given = callback_id.encode("utf-8", "replace")
        found = None
        for sub in self.subs.values():
            if hmac.compare_digest(sub.callback_id.encode("utf-8"), given):
                found = sub
        return found

    async def verify(self, callback_id: str, query: Mapping[str, str]) -> Verification:
        """A hub's verification of intent (or denial), answered and remembered."""
        sub = self._by_id(callback_id)
        answer = answer_verification(sub, query, now=self.now(), lease=self.config.websub_lease)
        if sub is not None and answer.changed:
            if answer.subscription is None:
                await self.store.forget_subscription(sub.feed_url)
                self.subs.pop(sub.feed_url, None)
            else:
                await self._keep(answer.subscription)
            self.log.info(
                "WebSub: the hub verified {mode} of {url}",
                mode=query.get("hub.mode", ""),
                url=sub.feed_url,
            )
        return answer

    def max_body(self, callback_id: str) -> int | None:
        """The most a push to ``callback_id`` may carry: its feed's ``max_feed_bytes``."""
        sub = self._by_id(callback_id)
        if sub is None:
            return None
        feed = next((f for f in self.config.feeds if f.url == sub.feed_url), None)
        return feed.max_feed_bytes if feed is not None else self.config.max_feed_bytes

    async def push(
        self,
        callback_id: str,
        body: bytes,
        *,
        signature: str | None,
        self_url: str | None,
        content_type: str | None,
    ) -> PushAnswer:
        """A hub's content distribution: judged, then stored as a fetch would be."""
        sub = self._by_id(callback_id)
        if sub is None:
            return PushAnswer(404, b"no such subscription\n")
        verdict: PushVerdict = judge_push(
            sub, signature=signature, self_url=self_url, body=body, now=self.now()
        )
        await self.store.save_subscription(verdict.subscription)
        if self.subs.get(sub.feed_url, sub).callback_id == sub.callback_id:
            self.subs[sub.feed_url] = verdict.subscription
        if not verdict.accepted:
            self.log.warn(
                "WebSub: ignored a push for {url}: {reason}",
                url=sub.feed_url,
                reason=verdict.reason,
            )
            return PushAnswer(202, b"ignored\n")
        report = await self.pushes.take_pushed(sub.feed_url, body, content_type)
        self.log.info(
            "WebSub: a push for {url}: {new_entries} new entries",
            url=sub.feed_url,
            new_entries=report.new_entries if report is not None else 0,
        )
        return PushAnswer(200, b"ok\n")

    def state_of(self, url: FeedURL) -> WebSubState | None:
        sub = self.subs.get(url)
        return sub.state if sub is not None else None


def hub_client(reactor: IReactorTime, user_agent: str) -> HubClient:
    """A :class:`HubClient` over its own non-persistent connection pool."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent, HTTPConnectionPool

    pool = HTTPConnectionPool(reactor, persistent=False)
    agent = Agent(reactor, pool=pool)
    return HubClient(reactor, HTTPClient(agent), user_agent)
