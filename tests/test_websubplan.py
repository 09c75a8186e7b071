"""WebSub's pure rules: discovery, the subscription plan, verification, signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import attrs
import pytest

from planetd.boundaries import (
    FeedConfig,
    FeedState,
    FeedURL,
    FetchKind,
    FetchResult,
    ParsedFeed,
    Subscription,
    Validators,
    WebSubState,
)
from planetd.parse import parse_feed, parse_with_feedparser
from planetd.websublinks import Discovery, discovered, link_relations
from planetd.websubplan import (
    FORGET,
    RETRY_DENIED,
    SAVE,
    SUBSCRIBE,
    UNSUBSCRIBE,
    VERIFY_WAIT,
    after_request,
    answer_verification,
    callback_url,
    judge_push,
    plan_websub,
    pushed_result,
    signature_ok,
    tuned,
)

NOW = datetime(2026, 7, 4, 12, 0, tzinfo=timezone.utc)
URL = FeedURL("https://blog.example/feed")
HUB = "https://hub.example/"
FOUND = Discovery(hub=HUB, topic=URL)
LEASE = 10 * 86400.0


def sub(state: WebSubState = WebSubState.ACTIVE, **kw: object) -> Subscription:
    values: dict[str, object] = {
        "feed_url": URL,
        "hub": HUB,
        "topic": URL,
        "secret": "s3cret",
        "callback_id": "cb",
        "state": state,
        "requested_at": NOW - timedelta(days=1),
        "lease_expires_at": NOW + timedelta(days=5),
    }
    values.update(kw)
    return Subscription(**values)  # type: ignore[arg-type]


def plan(found: Discovery | None, current: Subscription | None, *, configured: bool = True):  # type: ignore[no-untyped-def]
    tokens = iter(["secret-1", "id-1"])
    return plan_websub(
        [URL] if configured else [],
        {URL: found} if found else {},
        {URL: current} if current else {},
        now=NOW,
        lease=LEASE,
        mint=lambda: next(tokens),
    )


# -- discovery ---------------------------------------------------------------------------


def test_link_headers_name_hub_and_self_whatever_their_spelling() -> None:
    """rel values are matched case-blind, as a list, quoted or not, across headers; a
    relative self resolves against the response URL; non-web hubs are ignored."""
    assert link_relations(
        ['<https://h.example/>; rel=HUB; title="a, b"', '</feed>;rel="alternate self"'],
        "https://x.example/a/",
    ) == ("https://h.example/", "https://x.example/feed")
    assert link_relations(["<javascript:alert(1)>; rel=hub", "<x>; rel=next"], "https://x/") == (
        None,
        None,
    )


def test_headers_win_over_the_document_and_the_topic_defaults_to_the_feed_url() -> None:
    """WebSub §4: a hub in the Link headers is used before one in the body; without a
    self URL the topic is the URL the document came from."""
    body = ParsedFeed(hub="https://body-hub/", self_url="https://body-self/")
    by_header = FetchResult(kind=FetchKind.OK, hub="https://header-hub/", final_url=URL)
    assert discovered(URL, by_header, body) == Discovery("https://header-hub/", URL)
    plain = FetchResult(kind=FetchKind.OK, final_url=URL)
    assert discovered(URL, plain, body) == Discovery("https://body-hub/", "https://body-self/")
    assert discovered(URL, plain, ParsedFeed()) is None


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>
<link>https://blog.example/</link>
<atom:link rel="hub" href="https://hub.example/"/>
<atom:link rel="self" href="/feed" type="application/rss+xml"/>
<item><guid>x1</guid><title>a</title><atom:link rel="hub" href="https://wrong/"/></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
<updated>2026-01-01T00:00:00Z</updated>
<link rel="self" href="https://blog.example/feed"/><link rel="hub" href="https://hub.example/"/>
<entry><id>urn:1</id><title>a</title><updated>2026-01-01T00:00:00Z</updated></entry></feed>"""


@pytest.mark.parametrize("body", [RSS, ATOM], ids=["rss-with-atom-links", "atom"])
def test_both_parsers_read_the_feeds_hub_and_self(body: bytes) -> None:
    """The fast path and feedparser both find the feed-level hub and self links (an
    entry's links do not count), resolved against the feed URL."""
    fast = parse_feed(body, URL, "application/xml")
    slow = parse_with_feedparser(body, URL, "application/xml")
    assert fast.parser == "lxml"
    for parsed in (fast, slow):
        assert (parsed.hub, parsed.self_url) == (HUB, "https://blog.example/feed")


# -- the plan ----------------------------------------------------------------------------


def test_a_discovered_hub_is_subscribed_with_fresh_tokens() -> None:
    """A configured feed naming a hub and holding no subscription is subscribed, with a
    minted secret and callback id, as requested now."""
    (intent,) = plan(FOUND, None)
    assert intent.action is SUBSCRIBE
    row = intent.subscription
    assert (row.feed_url, row.hub, row.topic) == (URL, HUB, URL)
    assert (row.secret, row.callback_id) == ("secret-1", "id-1")
    assert row.state is WebSubState.REQUESTED and row.requested_at == NOW


def test_nothing_is_asked_while_the_lease_is_young() -> None:
    """An active subscription far from its end needs nothing; a feed with no hub neither."""
    assert plan(FOUND, sub()) == ()
    assert plan(None, sub()) == ()
    assert plan(None, None) == ()


def test_renewal_comes_in_the_last_tenth_of_the_lease_at_most_a_day_early() -> None:
    """With a 10-day lease the renewal is due a day before the end (not earlier), keeps
    the callback and secret, and the subscription stays active meanwhile."""
    assert plan(FOUND, sub(lease_expires_at=NOW + timedelta(days=1, seconds=1))) == ()
    (intent,) = plan(FOUND, sub(lease_expires_at=NOW + timedelta(days=1)))
    assert intent.action is SUBSCRIBE
    assert intent.subscription.state is WebSubState.ACTIVE
    assert (intent.subscription.callback_id, intent.subscription.secret) == ("cb", "s3cret")


def test_an_expired_lease_lapses_and_then_is_asked_again() -> None:
    """Past its end an active subscription is saved as lapsed; a lapsed one is asked again."""
    (intent,) = plan(FOUND, sub(lease_expires_at=NOW))
    assert intent.action is SAVE and intent.subscription.state is WebSubState.LAPSED
    (again,) = plan(FOUND, intent.subscription)
    assert again.action is SUBSCRIBE and again.subscription.state is WebSubState.REQUESTED


def test_unverified_and_denied_requests_are_retried_after_their_wait() -> None:
    """A request the hub never verified is sent again after VERIFY_WAIT; a denied one
    after RETRY_DENIED, not before."""
    waiting = sub(WebSubState.REQUESTED, requested_at=NOW - VERIFY_WAIT + timedelta(seconds=1))
    assert plan(FOUND, waiting) == ()
    (intent,) = plan(FOUND, attrs.evolve(waiting, requested_at=NOW - VERIFY_WAIT))
    assert intent.action is SUBSCRIBE
    denied = sub(WebSubState.DENIED, requested_at=NOW - RETRY_DENIED + timedelta(seconds=1))
    assert plan(FOUND, denied) == ()
    (retry,) = plan(FOUND, attrs.evolve(denied, requested_at=NOW - RETRY_DENIED))
    assert retry.action is SUBSCRIBE


def test_a_new_hub_or_topic_means_a_new_subscription() -> None:
    """A feed that moved to another hub is subscribed there, with new tokens."""
    (intent,) = plan(Discovery("https://other-hub/", URL), sub())
    assert intent.action is SUBSCRIBE
    assert intent.subscription.hub == "https://other-hub/"
    assert intent.subscription.callback_id == "id-1"


def test_a_feed_that_leaves_the_config_is_unsubscribed_then_forgotten() -> None:
    """Not configured: a live subscription is unsubscribed; an unsubscription the hub has
    not verified within VERIFY_WAIT, or a dead one, is forgotten."""
    (intent,) = plan(FOUND, sub(), configured=False)
    assert intent.action is UNSUBSCRIBE
    assert intent.subscription.state is WebSubState.UNSUBSCRIBING
    assert plan(None, intent.subscription, configured=False) == ()
    late = attrs.evolve(intent.subscription, requested_at=NOW - VERIFY_WAIT)
    assert [i.action for i in plan(None, late, configured=False)] == [FORGET]
    assert [i.action for i in plan(None, sub(WebSubState.DENIED), configured=False)] == [FORGET]


def test_a_refused_request_denies_a_new_subscription_but_not_a_renewal() -> None:
    """A hub answering non-2xx (or unreachable) denies a new request, with the reason;
    a renewal keeps its active lease and an unsubscription is retried."""
    assert after_request(sub(WebSubState.REQUESTED), 202, None).state is WebSubState.REQUESTED
    denied = after_request(sub(WebSubState.REQUESTED), 500, None)
    assert denied.state is WebSubState.DENIED and denied.last_error == "the hub answered HTTP 500"
    kept = after_request(sub(), None, "refused")
    assert kept.state is WebSubState.ACTIVE and kept.last_error == "refused"


def test_only_a_live_subscription_slows_the_polls() -> None:
    """An active, unexpired subscription polls at max_interval; any other state, or an
    expired lease, keeps the feed's own interval."""
    feed = FeedConfig(url=URL, name="b", poll_interval=3600, feed_timeout=30, max_feed_bytes=1)
    assert tuned(feed, sub(), NOW, 86400).poll_interval == 86400
    assert tuned(feed, sub(lease_expires_at=NOW), NOW, 86400).poll_interval == 3600
    assert tuned(feed, sub(WebSubState.REQUESTED), NOW, 86400).poll_interval == 3600
    assert tuned(feed, None, NOW, 86400).poll_interval == 3600


# -- the hub's requests ------------------------------------------------------------------


def query(mode: str = "subscribe", topic: str = URL, **kw: str) -> dict[str, str]:
    return {"hub.mode": mode, "hub.topic": topic, "hub.challenge": "zq-42", **kw}


def test_the_challenge_is_echoed_only_for_what_we_asked() -> None:
    """A subscribe for our topic echoes the challenge and starts the hub's lease; another
    topic, another mode, no challenge or no subscription is a 404 with no echo."""
    answer = answer_verification(
        sub(WebSubState.REQUESTED), query(**{"hub.lease_seconds": "600"}), now=NOW, lease=LEASE
    )
    assert (answer.status, answer.body) == (200, b"zq-42")
    assert answer.subscription is not None
    assert answer.subscription.state is WebSubState.ACTIVE
    assert answer.subscription.lease_expires_at == NOW + timedelta(seconds=600)
    for bad_sub, bad_query in [
        (sub(WebSubState.REQUESTED), query(topic="https://other/")),
        (sub(WebSubState.REQUESTED), query("unsubscribe")),
        (sub(WebSubState.DENIED), query()),
        (sub(WebSubState.REQUESTED), {"hub.mode": "subscribe", "hub.topic": URL}),
        (None, query()),
    ]:
        refused = answer_verification(bad_sub, bad_query, now=NOW, lease=LEASE)
        assert refused.status == 404 and b"zq-42" not in refused.body


def test_an_unsubscription_is_verified_only_when_we_asked_for_it() -> None:
    """An unsubscribe is echoed (and the row forgotten) only while unsubscribing."""
    answer = answer_verification(
        sub(WebSubState.UNSUBSCRIBING), query("unsubscribe"), now=NOW, lease=LEASE
    )
    assert (answer.status, answer.body, answer.subscription) == (200, b"zq-42", None)
    assert answer_verification(sub(), query("unsubscribe"), now=NOW, lease=LEASE).status == 404


def test_a_denial_is_recorded_with_the_hubs_reason() -> None:
    """hub.mode=denied for our topic marks the subscription denied, with hub.reason."""
    answer = answer_verification(
        sub(WebSubState.REQUESTED),
        {"hub.mode": "denied", "hub.topic": URL, "hub.reason": "nope"},
        now=NOW,
        lease=LEASE,
    )
    assert answer.status == 200 and answer.subscription is not None
    assert answer.subscription.state is WebSubState.DENIED
    assert answer.subscription.last_error == "nope"


@pytest.mark.parametrize("algo", ["sha1", "sha256", "sha384", "sha512"])
def test_signatures_of_every_websub_algorithm_are_checked(algo: str) -> None:
    """The HMAC of the body under our secret is accepted; another secret, another body,
    a bare digest, an unknown method or no header is not."""
    body = b"<feed/>"
    good = hmac.new(b"s3cret", body, getattr(hashlib, algo)).hexdigest()
    assert signature_ok(f"{algo}={good}", body, "s3cret")
    assert signature_ok(f"{algo.upper()}={good.upper()}", body, "s3cret")
    assert not signature_ok(f"{algo}={good}", body + b" ", "s3cret")
    assert not signature_ok(f"{algo}={good}", body, "other")
    assert not signature_ok(good, body, "s3cret")
    assert not signature_ok(f"md5={good}", body, "s3cret")
    assert not signature_ok(None, body, "s3cret")


def test_a_push_is_judged_and_counted() -> None:
    """A signed push for our topic is accepted and stamped; a bad signature or another
    topic is rejected and counted, never stamped."""
    body = b"<feed/>"
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    ok = judge_push(sub(), signature=signature, self_url=URL, body=body, now=NOW)
    assert ok.accepted and ok.subscription.pushes_accepted == 1
    assert ok.subscription.last_push_at == NOW
    for verdict in (
        judge_push(sub(), signature="sha256=00", self_url=None, body=body, now=NOW),
        judge_push(sub(), signature=signature, self_url="https://x/", body=body, now=NOW),
        judge_push(
            sub(WebSubState.UNSUBSCRIBING), signature=signature, self_url=None, body=body, now=NOW
        ),
    ):
        assert not verdict.accepted and verdict.reason
        assert verdict.subscription.pushes_rejected == 1
        assert verdict.subscription.last_push_at is None


def test_a_push_becomes_a_fetch_that_keeps_the_feeds_validators() -> None:
    """A pushed body is a 200 with the feed's stored ETag and Last-Modified (the next
    poll stays conditional) and the body's own hash (a replay is not parsed again)."""
    state = FeedState(
        url=URL, name="b", http_status=200, validators=Validators('"e"', "Mon", "old")
    )
    result = pushed_result(state, b"<feed/>", "application/atom+xml")
    assert result.kind is FetchKind.OK and result.pushed and result.body == b"<feed/>"
    assert result.validators == Validators('"e"', "Mon", hashlib.sha256(b"<feed/>").hexdigest())
    assert result.final_url == URL


def test_callbacks_live_under_the_public_url() -> None:
    """A callback is public_url + websub/ + the id, whatever the trailing slash."""
    assert callback_url("https://p.example/planet/", "abc") == "https://p.example/planet/websub/abc"
    assert callback_url("https://p.example", "abc") == "https://p.example/websub/abc"
