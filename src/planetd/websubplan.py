"""WebSub, the deciding half: what to ask each hub, and what a hub's request means.

Owns every rule of planetd's WebSub subscriber (W3C WebSub Recommendation):

* **When to subscribe** (:func:`plan_websub`): a configured feed whose last
  document named a hub is subscribed, with a fresh random secret and an
  unguessable callback id; an active subscription is renewed when a tenth of
  its lease (at most a day) is left; one the hub never verified is asked
  again after :data:`VERIFY_WAIT`; a denied or failed one after
  :data:`RETRY_DENIED`; one whose lease ran out becomes ``lapsed`` and is
  asked again; a hub or topic that changed is subscribed anew; a feed that
  left the config is unsubscribed, and forgotten once the hub verifies that
  (or after :data:`VERIFY_WAIT`).
* **The poll schedule** (:func:`tuned`): an active, unexpired subscription
  polls its feed at ``max_interval`` (in case the hub fails); any other state
  keeps the feed's own interval.
* **Intent verification** (:func:`answer_verification`): the challenge is
  echoed only for a topic and mode we asked for; anything else is a 404.
* **Content distribution** (:func:`judge_push`): a body is accepted only
  with an ``X-Hub-Signature`` (sha1, sha256, sha384 or sha512) that matches
  the secret, compared in constant time, and only for the subscribed topic.
* **A push as a fetch** (:func:`pushed_result`): the body becomes the
  :class:`FetchResult` the poller's parse → decide → store path takes.

Pure: values in, values out; randomness (``mint``) and ``now`` are arguments.
Must not import Twisted, treq, sqlite3 or any shell.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

import attrs

from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedURL,
    FetchKind,
    FetchResult,
    PlanetConfig,
    Subscription,
    Validators,
    WebSubState,
)
from planetd.websublinks import Discovery

#: How long a request may wait for the hub's verification before it is sent again.
VERIFY_WAIT = timedelta(minutes=15)
#: How long a denied or failed subscription waits before it is asked again.
RETRY_DENIED = timedelta(days=1)
#: The most a renewal is sent ahead of the lease's end (else a tenth of the lease).
RENEW_AHEAD_MAX = timedelta(days=1)
#: The signature algorithms WebSub names, by the prefix ``X-Hub-Signature`` gives them.
SIGNATURES: Mapping[str, Callable[..., object]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
#: The path under ``public_url`` where callbacks live.
CALLBACK_PREFIX = "websub/"


class Action(str, enum.Enum):
    """What the shell does with one planned subscription."""

    #: Save the row, then ask the hub to subscribe (or renew).
    SUBSCRIBE = "subscribe"
    #: Save the row, then ask the hub to unsubscribe.
    UNSUBSCRIBE = "unsubscribe"
    #: Delete the row.
    FORGET = "forget"
    #: Save the row only.
    SAVE = "save"


SUBSCRIBE = Action.SUBSCRIBE
UNSUBSCRIBE = Action.UNSUBSCRIBE
FORGET = Action.FORGET
SAVE = Action.SAVE


@attrs.frozen
class Intent:
    """One step the subscriber's shell executes: save the row, then ask the hub if told."""

    action: Action
    subscription: Subscription


def websub_enabled(config: PlanetConfig) -> bool:
    """Push is on when the planet has a ``public_url`` and ``websub`` is not ``no``."""
    return bool(config.public_url) and config.websub


def callback_url(public_url: str, callback_id: str) -> str:
    """The URL a hub calls back for one subscription."""
    return f"{public_url.rstrip('/')}/{CALLBACK_PREFIX}{callback_id}"


def renew_at(sub: Subscription, lease: float) -> datetime | None:
    """When an active subscription is renewed: a tenth of its lease (at most a day) early."""
    if sub.lease_expires_at is None:
        return None
    ahead = min(timedelta(seconds=lease / 10), RENEW_AHEAD_MAX)
    return sub.lease_expires_at - ahead


def _asked(sub: Subscription, action: Action, now: datetime) -> Intent:
    state = WebSubState.UNSUBSCRIBING if action is UNSUBSCRIBE else WebSubState.REQUESTED
    if action is SUBSCRIBE and sub.state is WebSubState.ACTIVE:
        state = WebSubState.ACTIVE  # a renewal: pushes keep coming meanwhile
    return Intent(action, attrs.evolve(sub, state=state, requested_at=now, last_error=None))


def _waited(sub: Subscription, now: datetime, wait: timedelta) -> bool:
    return sub.requested_at is None or now >= sub.requested_at + wait


def plan_one(
    found: Discovery | None,
    sub: Subscription | None,
    *,
    configured: bool,
    now: datetime,
    lease: float,
    mint: Callable[[], str],
) -> Intent | None:
    """The step one feed needs now, or None. See the module docstring for the rules."""
    if sub is not None and not configured:
        if sub.state is WebSubState.UNSUBSCRIBING:
            return Intent(FORGET, sub) if _waited(sub, now, VERIFY_WAIT) else None
        if sub.state in (WebSubState.ACTIVE, WebSubState.REQUESTED):
            return _asked(sub, UNSUBSCRIBE, now)
        return Intent(FORGET, sub)
    if not configured:
        return None
    if sub is None or (found is not None and (found.hub, found.topic) != (sub.hub, sub.topic)):
        if found is None:
            return None
        fresh = Subscription(
            feed_url=sub.feed_url if sub is not None else FeedURL(""),
            hub=found.hub,
            topic=found.topic,
            secret=mint(),
            callback_id=mint(),
        )
        return _asked(fresh, SUBSCRIBE, now)
    if sub.state is WebSubState.ACTIVE:
        if sub.lease_expires_at is not None and now >= sub.lease_expires_at:
            lapsed = attrs.evolve(sub, state=WebSubState.LAPSED)
            return Intent(SAVE, lapsed)
        due = renew_at(sub, lease)
        if due is not None and now >= due and _waited(sub, now, VERIFY_WAIT):
            return _asked(sub, SUBSCRIBE, now)
        return None
    if sub.state is WebSubState.REQUESTED and _waited(sub, now, VERIFY_WAIT):
        return _asked(sub, SUBSCRIBE, now)
    if sub.state is WebSubState.LAPSED:
        return _asked(sub, SUBSCRIBE, now)
    if sub.state is WebSubState.DENIED and _waited(sub, now, RETRY_DENIED):
        return _asked(sub, SUBSCRIBE, now)
    if sub.state is WebSubState.UNSUBSCRIBING:  # configured again
        return _asked(sub, SUBSCRIBE, now)
    return None


def plan_websub(
    configured: Collection[FeedURL],
    found: Mapping[FeedURL, Discovery],
    subs: Mapping[FeedURL, Subscription],
    *,
    now: datetime,
    lease: float,
    mint: Callable[[], str],
) -> tuple[Intent, ...]:
    """Every step the subscriptions need at ``now``: one at most per feed.

    ``configured`` are the feeds the config polls; ``found`` what each one's
    last document said about its hub (a feed not polled since the start is
    absent: its stored subscription stands); ``subs`` the stored rows.
    """
    intents: list[Intent] = []
    for url in sorted({*configured, *subs}):
        intent = plan_one(
            found.get(url), subs.get(url), configured=url in configured, now=now, lease=lease,
            mint=mint,
        )  # fmt: skip
        if intent is not None:
            row = attrs.evolve(intent.subscription, feed_url=url)
            intents.append(Intent(intent.action, row))
    return tuple(intents)


def after_request(sub: Subscription, status: int | None, error: str | None) -> Subscription:
    """The row after the hub answered a request: 2xx waits for verification; else a
    new subscription is denied, and a renewal or unsubscription keeps its state."""
    if status is not None and 200 <= status < 300:
        return sub
    why = error or f"the hub answered HTTP {status}"
    if sub.state in (WebSubState.UNSUBSCRIBING, WebSubState.ACTIVE):
        # An unsubscription is retried; a failed renewal keeps the lease it has.
        return attrs.evolve(sub, last_error=why[:300])
    return attrs.evolve(sub, state=WebSubState.DENIED, last_error=why[:300])


def tuned(
    feed: FeedConfig, sub: Subscription | None, now: datetime, max_interval: float
) -> FeedConfig:
    """The feed as a poll uses it: a live subscription polls only at ``max_interval``."""
    if sub is None or sub.state is not WebSubState.ACTIVE:
        return feed
    if sub.lease_expires_at is not None and now >= sub.lease_expires_at:
        return feed
    return attrs.evolve(feed, poll_interval=max(feed.poll_interval, max_interval))


@attrs.frozen
class Verification:
    """The answer to a hub's verification GET, and the row it leaves (None: forget it)."""

    status: int
    body: bytes
    subscription: Subscription | None
    changed: bool = False


def answer_verification(
    sub: Subscription | None,
    query: Mapping[str, str],
    *,
    now: datetime,
    lease: float,
) -> Verification:
    """Echo ``hub.challenge`` only for a topic and mode we asked for (WebSub §5.3)."""
    mode = query.get("hub.mode", "")
    topic = query.get("hub.topic", "")
    challenge = query.get("hub.challenge", "")
    nothing = Verification(404, b"no such subscription\n", sub)
    if sub is None or topic != sub.topic:
        return nothing
    if mode == "denied":
        reason = query.get("hub.reason") or "the hub denied the subscription"
        denied = attrs.evolve(sub, state=WebSubState.DENIED, last_error=reason[:300])
        return Verification(200, b"", denied, changed=True)
    if not challenge:
        return nothing
    if mode == "subscribe" and sub.state in (WebSubState.REQUESTED, WebSubState.ACTIVE):
        try:
            granted = float(query.get("hub.lease_seconds", "") or lease)
        except ValueError:
            granted = lease
        granted = granted if 0 < granted < 10 * 365 * 86400 else lease
        active = attrs.evolve(
            sub,
            state=WebSubState.ACTIVE,
            lease_expires_at=now + timedelta(seconds=granted),
            last_error=None,
        )
        return Verification(200, challenge.encode("utf-8"), active, changed=True)
    if mode == "unsubscribe" and sub.state is WebSubState.UNSUBSCRIBING:
        return Verification(200, challenge.encode("utf-8"), None, changed=True)
    return nothing


def signature_ok(header: str | None, body: bytes, secret: str) -> bool:
    """Whether ``X-Hub-Signature: method=hex`` is the HMAC of ``body`` under ``secret``."""
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    digest = SIGNATURES.get(method.strip().lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, digest).hexdigest()  # type: ignore[arg-type]
    return hmac.compare_digest(expected, given.strip().lower())


@attrs.frozen
class PushVerdict:
    """Whether a pushed body goes on to be stored, why not, and the row with its counters."""

    accepted: bool
    reason: str | None
    subscription: Subscription


def judge_push(
    sub: Subscription,
    *,
    signature: str | None,
    self_url: str | None,
    body: bytes,
    now: datetime,
) -> PushVerdict:
    """Accept a push only if signed with our secret and about our topic (WebSub §7-8)."""
    reason: str | None = None
    if sub.state not in (WebSubState.ACTIVE, WebSubState.REQUESTED, WebSubState.LAPSED):
        reason = f"no live subscription ({sub.state.value})"
    elif not signature_ok(signature, body, sub.secret):
        reason = "missing or wrong X-Hub-Signature"
    elif self_url is not None and self_url != sub.topic:
        reason = f"a push for another topic ({self_url[:200]})"
    if reason is not None:
        rejected = attrs.evolve(sub, pushes_rejected=sub.pushes_rejected + 1)
        return PushVerdict(False, reason, rejected)
    accepted = attrs.evolve(sub, pushes_accepted=sub.pushes_accepted + 1, last_push_at=now)
    return PushVerdict(True, None, accepted)


def pushed_result(state: FeedState, body: bytes, content_type: str | None) -> FetchResult:
    """A pushed body as the fetch result the poll path takes: a 200 that keeps the feed's
    HTTP validators (the next poll stays conditional) and hashes the body (a replayed
    push is byte-identical, so it is not parsed again)."""
    return FetchResult(
        kind=FetchKind.OK,
        http_status=state.http_status or 200,
        body=body,
        content_type=content_type,
        validators=Validators(
            etag=state.validators.etag,
            last_modified=state.validators.last_modified,
            body_hash=hashlib.sha256(body).hexdigest(),
        ),
        final_url=state.moved_to or state.url,
        pushed=True,
    )
