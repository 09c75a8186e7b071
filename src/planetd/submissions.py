"""Suggested feeds, the pure half: what may be suggested, by whom, how often, and how.

Owns every rule of ``/submit`` and ``/moderate`` that can be decided from
plain values, so that the web face, the command line and the tests share one
copy of each:

* **Validation** (:func:`check_form`): ``http``/``https`` only, a length limit
  on every field, no control characters (a name becomes a line of the config
  file), the URL normalised (:func:`normalise_url`) and compared with the
  config's feeds; :func:`check_queued` compares it with the queue, where a
  rejected URL stays rejected with its reason.
* **The address policy** (:func:`address_problem`): loopback, private,
  link-local (the cloud metadata address 169.254.169.254 among them),
  shared/CGNAT, multicast, reserved and unspecified addresses, in IPv4 and
  IPv6 (an IPv4-mapped IPv6 address is judged as its IPv4 address), are
  refused unless ``allow_private_feeds``. The shell applies it to the address
  it actually connects to, on every hop (:mod:`planetd.guardedfetch`).
* **CSRF tokens** (:func:`make_csrf_token`, :func:`check_csrf_token`): an HMAC
  of a per-daemon secret and the time the form was made, compared in constant
  time, valid for :data:`CSRF_MAX_AGE`.
* **The rate limit** per client address: a token bucket as a frozen value
  (:func:`take_token`); the shell keeps one per address.
* **The queue cap** (:data:`QUEUE_CAP`) and the **config text** an approval
  appends (:func:`section_text`, through :func:`planetd.opml.plan_append`,
  so the existing text is kept byte for byte as ``opml import`` keeps it).

Pure: no Twisted, no sqlite3, no I/O; time and secrets come in as arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import attrs

from planetd.boundaries import ParsedFeed, PlanetConfig, Preview, Submission, SubmissionForm
from planetd.boundaries import SubmissionState as State
from planetd.groups import planet_groups
from planetd.opml import Outline, plan_append, usable_url

#: The longest feed URL accepted.
MAX_URL = 2000
#: The longest name, contact, group and rejection reason accepted.
MAX_NAME = 200
MAX_CONTACT = 200
MAX_GROUP = 100
MAX_REASON = 500
#: Pending suggestions kept at most; past it ``POST /submit`` answers 503.
QUEUE_CAP = 200
#: Seconds a form stays valid after it was served.
CSRF_MAX_AGE = 2 * 3600.0
#: Suggestions one client address may send at once, and the seconds that earn one more.
BURST = 5
REFILL_SECONDS = 60.0
#: Newest entry titles a preview keeps.
PREVIEW_ENTRIES = 5

_NEVER = datetime.min.replace(tzinfo=timezone.utc)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


class SubmissionRefusedError(ValueError):
    """A suggestion that cannot be queued; the message says why, for the submitter."""


class QueueFullError(SubmissionRefusedError):
    """The queue holds :data:`QUEUE_CAP` pending suggestions: try again later (503)."""


# -- validation -------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """``url`` as suggestions are compared: scheme and host lower-cased, the default port
    and the fragment dropped, an empty path made ``/``. Anything else is kept as written."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _field(value: str, label: str, limit: int, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise SubmissionRefusedError(f"{label} is required")
    if len(value) > limit:
        raise SubmissionRefusedError(f"{label} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise SubmissionRefusedError(f"{label} holds control characters or line breaks")
    return value


def check_form(
    url: str,
    name: str,
    contact: str,
    group: str = "",
    *,
    subscribed: Iterable[str] = (),
    groups: Collection[str] = (),
    allow_private: bool = False,
) -> SubmissionForm:
    """A suggestion's fields, checked: the :class:`SubmissionForm` to queue.

    ``subscribed`` are the config's feed URLs; ``groups`` the groups a feed may
    join (a group outside them is refused). An IP-literal host is judged by the
    address policy here; a host name is judged when it is resolved.

    Raises:
        SubmissionRefusedError: Saying which field is wrong and why.
    """
    url = _field(url, "the feed URL", MAX_URL, required=True)
    name = _field(name, "the name", MAX_NAME, required=True)
    contact = _field(contact, "the contact", MAX_CONTACT, required=True)
    group = _field(group, "the group", MAX_GROUP, required=False)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        raise SubmissionRefusedError(f"not a valid URL: {url}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise SubmissionRefusedError(
            f"only http and https feeds may be suggested, not {parts.scheme or 'this'}: URLs"
        )
    if not host:
        raise SubmissionRefusedError(f"the URL names no host: {url}")
    normal = normalise_url(url)
    if not usable_url(normal) or "]" in parts.path:
        raise SubmissionRefusedError("the URL holds spaces or characters a config cannot hold")
    if normal in {normalise_url(u) for u in subscribed if u.startswith(("http:", "https:"))}:
        raise SubmissionRefusedError("this planet already subscribes to that feed")
    if group and group not in groups:
        raise SubmissionRefusedError(f"no group {group!r} in this planet")
    problem = literal_host_problem(host, allow_private)
    if problem is not None:
        raise SubmissionRefusedError(problem)
    return SubmissionForm(url=normal, name=name, contact=contact, group=group)


def check_queued(existing: Submission | None) -> None:
    """Refuse a URL the queue already holds: pending, approved, or rejected (with why)."""
    if existing is None:
        return
    if existing.state is State.PENDING:
        raise SubmissionRefusedError("that feed was already suggested and waits for a moderator")
    if existing.state is State.APPROVED:
        raise SubmissionRefusedError("that feed was already suggested and approved")
    why = f": {existing.reason}" if existing.reason else ""
    raise SubmissionRefusedError(f"that feed was suggested before and rejected{why}")


def check_reason(reason: str) -> str:
    """A moderator's reason, within its limit."""
    return _field(reason, "the reason", MAX_REASON, required=False)


def queue_full(pending: int, cap: int = QUEUE_CAP) -> bool:
    """Whether ``pending`` suggestions fill the queue: new ones wait for moderation."""
    return pending >= cap


def group_names(config: PlanetConfig) -> tuple[str, ...]:
    """The names of the planet's groups (:func:`planetd.groups.planet_groups`), sorted;
    () without groups."""
    return tuple(sorted((g.name for g in planet_groups(config)), key=str.casefold))


# -- the address policy -----------------------------------------------------------------

_METADATA = ipaddress.ip_address("169.254.169.254")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def address_problem(address: str, allow_private: bool = False) -> str | None:
    """Why planetd must not connect to ``address`` (an IP address as text), or None.

    Only public unicast addresses pass, unless ``allow_private``.
    """
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return f"{address} is not an IP address"
    if allow_private:
        return None
    judged: ipaddress.IPv4Address | ipaddress.IPv6Address = ip
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        judged = ip.ipv4_mapped
    kind = _kind(judged)
    if kind is None:
        return None
    return f"{address} is {kind}, not a public address (allow_private_feeds = yes allows it)"


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip == _METADATA:
        return "the cloud metadata address"
    checks = (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "a special-purpose address"),
    )
    return next((label for hit, label in checks if hit), None)


def is_ip_literal(host: str) -> bool:
    """Whether a URL's host is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def literal_host_problem(host: str, allow_private: bool) -> str | None:
    """The address policy for a URL's host when it is an IP literal; None for a name."""
    if not is_ip_literal(host):
        return None
    return address_problem(host.strip("[]"), allow_private)


# -- CSRF ---------------------------------------------------------------------------------


def _mac(secret: bytes, stamp: str) -> str:
    return hmac.new(secret, b"planetd-submit:" + stamp.encode("ascii"), hashlib.sha256).hexdigest()


def make_csrf_token(secret: bytes, now: float) -> str:
    """A form's token: the time it was made, and an HMAC of it under the daemon's secret."""
    stamp = str(int(now))
    return f"{stamp}.{_mac(secret, stamp)}"


def check_csrf_token(
    secret: bytes, token: str | None, now: float, max_age: float = CSRF_MAX_AGE
) -> bool:
    """Whether ``token`` was made by :func:`make_csrf_token` with ``secret`` within
    ``max_age`` seconds (a minute of clock skew forgiven). Compared in constant time."""
    if not token or len(token) > 100:
        return False
    stamp, _, mac = token.partition(".")
    if not stamp.isdigit() or len(stamp) > 12:
        return False
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(secret, stamp).encode()):
        return False
    return -60.0 <= now - int(stamp) <= max_age


def token_matches(given: str | None, expected: str | None) -> bool:
    """Whether a moderation token given matches the configured one, in constant time."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


# -- the rate limit -----------------------------------------------------------------------


@attrs.frozen
class Bucket:
    """One client address's token bucket: tokens left at a moment."""

    tokens: float
    at: float


def take_token(
    bucket: Bucket | None,
    now: float,
    *,
    burst: int = BURST,
    refill_seconds: float = REFILL_SECONDS,
) -> tuple[Bucket, float | None]:
    """Spend one token: the bucket after, and None if allowed, else the seconds to wait.

    A new address starts with ``burst`` tokens; one comes back every
    ``refill_seconds``, up to ``burst``.
    """
    if bucket is None:
        tokens = float(burst)
    else:
        tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.at) / refill_seconds)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), None
    return Bucket(tokens, now), (1.0 - tokens) * refill_seconds


def live_buckets(
    buckets: Mapping[str, Bucket], now: float, *, burst: int = BURST, refill: float = REFILL_SECONDS
) -> dict[str, Bucket]:
    """The buckets that are not full yet (a full one is the same as none): keeps the
    shell's table small however many addresses come by."""
    return {
        address: b
        for address, b in buckets.items()
        if b.tokens + max(0.0, now - b.at) / refill < burst
    }


# -- preview and approval -------------------------------------------------------------------


def preview_of(parsed: ParsedFeed | None, error: str | None) -> Preview:
    """What the moderator sees of a suggestion's preview fetch."""
    if parsed is None:
        return Preview(parsed=False, error=error or "not fetched")
    if parsed.error is not None:
        return Preview(parsed=False, title=parsed.title, error=parsed.error)
    newest = sorted(parsed.entries, key=lambda e: e.published or e.updated or _NEVER, reverse=True)
    titles = tuple(" ".join(e.title.split())[:MAX_NAME] for e in newest[:PREVIEW_ENTRIES])
    return Preview(parsed=True, title=" ".join(parsed.title.split())[:MAX_NAME], entries=titles)


def section_text(original: bytes, present: Iterable[str], form: SubmissionForm) -> str:
    """The text an approval appends to a config whose bytes are ``original``: the feed's
    section, as ``opml import`` writes one, with its group; "" if the config has it."""
    plan = plan_append(original, present, [Outline(url=form.url, name=form.name)])
    if not plan.added or not form.group:
        return plan.text
    newline = "\r\n" if b"\r\n" in original else "\n"
    return f"{plan.text}group = {form.group}{newline}"
