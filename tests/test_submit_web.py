"""``/submit`` and ``/moderate`` in memory: every guard answers with its own status.

The web face runs over a real SQLite file through ``StubTreq``, on a ``Clock``;
the preview fetch is a scripted function (its address guard is tested over
real sockets in ``test_guardedfetch.py``), and approval is recorded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from builders import utc
from planetd.boundaries import Preview, Submission, SubmissionState
from planetd.config import parse_config
from planetd.dbthreads import InlineStore
from planetd.store import open_database
from planetd.submissions import BURST, QUEUE_CAP
from planetd.submitweb import DeskState, SubmitDesk
from planetd.webface import web_face

TOKEN = "a-moderation-token-long-enough"

CONFIG = f"""[Planet]
name = Planet Submit
submissions = yes
moderation_token = {TOKEN}

[https://a.example.org/feed]
name = Alpha
group = Python
"""


def result_of(d: Deferred[Any]) -> Any:
    """The result of a Deferred that must already have fired (everything is in memory)."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "the Deferred has not fired"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


class Site:
    """A planet's web face with submissions on, and what its callables were asked."""

    def __init__(self, folder: Path, text: str = CONFIG) -> None:
        self.config = parse_config(text, str(folder / "planet.ini"))
        self.db = open_database(str(folder / "planet.sqlite"))
        self.store = InlineStore(self.db)
        self.clock = Clock()
        self.clock.advance(utc(2026, 7, 6).timestamp())
        self.previews: list[str] = []
        self.approved: list[Submission] = []
        self.refuse: str | None = None
        state = DeskState(b"s" * 32)

        async def preview(url: str) -> tuple[Preview, str | None]:
            self.previews.append(url)
            if self.refuse is not None:
                return Preview(error=self.refuse), self.refuse
            return Preview(parsed=True, title="A feed", entries=("One", "Two")), None

        async def approve(s: Submission) -> str:
            self.approved.append(s)
            await self.store.decide_submission(
                s.id, SubmissionState.APPROVED, None, utc(2026, 7, 6)
            )
            return f"approved {s.form.url}"

        def desk(config: Any, renderer: Any) -> SubmitDesk | None:
            if not config.submissions:
                return None
            return SubmitDesk(
                config, renderer, self.store, self.clock, state, preview=preview, approve=approve
            )

        self.web = web_face(self.config, self.store, self.clock, rebuild_delay=0, make_desk=desk)
        self.http = StubTreq(self.web.app.resource())

    def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any, str]:
        response = result_of(self.http.request(method, "http://planet.test" + path, **kw))
        body = result_of(response.text("utf-8"))
        return response.code, response.headers, body

    def csrf(self, path: str = "/submit") -> str:
        _, _, body = self.request("GET", path)
        found = re.search(r'name="csrf" value="([^"]+)"', body)
        assert found, body
        return found.group(1)

    def suggest(self, url: str, **fields: str) -> tuple[int, Any, str]:
        data = {"csrf": self.csrf(), "url": url, "name": "Someone", "contact": "me@example.org"}
        data.update(fields)
        return self.request("POST", "/submit", data=data)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    s = Site(tmp_path)
    yield s
    s.db.close()


def test_the_form_shows_the_fields_and_the_groups(site: Site) -> None:
    """GET /submit shows the URL, name and contact fields, a CSRF token, and the groups
    the planet's feeds name."""
    code, headers, body = site.request("GET", "/submit")
    assert code == 200
    for field in ('name="url"', 'name="name"', 'name="contact"', 'name="csrf"'):
        assert field in body
    assert '<option value="Python"' in body
    assert headers.getRawHeaders(b"cache-control") == [b"no-store"]


def test_a_good_suggestion_is_queued_with_its_preview(site: Site) -> None:
    """A valid suggestion is previewed and queued pending, with the URL normalised."""
    code, _, body = site.suggest("HTTPS://Blog.Example.COM:443/feed.xml#top", group="Python")
    assert code == 200, body
    assert "waits for a moderator" in body
    (queued,) = site.db.submission_queue().all()
    assert queued.form.url == "https://blog.example.com/feed.xml"
    assert queued.form.group == "Python"
    assert queued.state is SubmissionState.PENDING
    assert queued.preview == Preview(parsed=True, title="A feed", entries=("One", "Two"))


def test_a_bad_or_missing_csrf_token_is_403(site: Site) -> None:
    """A POST without the form's token, with a forged one, or with an expired one is
    refused with 403 and queues nothing."""
    base = {"url": "https://x.example.com/feed", "name": "X", "contact": "me"}
    assert site.request("POST", "/submit", data=base)[0] == 403
    forged = {**base, "csrf": "1783296000." + "0" * 64}
    assert site.request("POST", "/submit", data=forged)[0] == 403
    old = site.csrf()
    site.clock.advance(3 * 3600)
    assert site.request("POST", "/submit", data={**base, "csrf": old})[0] == 403
    assert site.db.submission_queue().all() == []


def test_a_burst_is_429_with_retry_after(site: Site) -> None:
    """One address may send BURST suggestions at once; the next is 429 with Retry-After,
    and after the wait it may send again."""
    for i in range(BURST):
        assert site.suggest(f"https://x{i}.example.com/feed")[0] == 200
    code, headers, _ = site.suggest("https://late.example.com/feed")
    assert code == 429
    wait = int(headers.getRawHeaders(b"retry-after")[0])
    assert 1 <= wait <= 60
    site.clock.advance(wait)
    assert site.suggest("https://late.example.com/feed")[0] == 200


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.com/feed", "only http and https"),
        ("http://127.0.0.1/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::ffff:10.0.0.1]/feed", "private"),
        ("https://a.example.org/feed", "already subscribes"),
        ("https://" + "x" * 2000 + ".example/", "longer than"),
    ],
)
def test_refused_urls_say_why(site: Site, url: str, says: str) -> None:
    """Non-HTTP URLs, loopback, metadata and private literals, a feed the planet has and
    an over-long URL are refused with 400 and a reason, before any fetch."""
    code, _, body = site.suggest(url)
    assert code == 400
    assert says in body
    assert site.previews == []


def test_a_refused_connection_in_the_preview_is_400_with_its_reason(site: Site) -> None:
    """When the preview's address guard refuses (a name resolving to a private address,
    a redirect to one), the suggestion is refused with that reason and not queued."""
    site.refuse = "feeds.example.com resolves to 10.0.0.1, a private address"
    code, _, body = site.suggest("https://feeds.example.com/feed")
    assert code == 400
    assert "resolves to 10.0.0.1" in body
    assert site.db.submission_queue().all() == []


def test_a_full_queue_is_503(site: Site, tmp_path: Path) -> None:
    """Once QUEUE_CAP suggestions wait, a new one is 503 with Retry-After."""
    from planetd.boundaries import SubmissionForm

    queue = site.db.submission_queue()
    for i in range(QUEUE_CAP):
        queue.add(
            SubmissionForm(f"https://q{i}.example/", "Q", "c"), Preview(), utc(2026, 7, 1), 10**6
        )
    code, headers, _ = site.suggest("https://one-more.example.com/feed")
    assert code == 503
    assert headers.getRawHeaders(b"retry-after")


def test_submissions_off_means_no_form_and_no_post(tmp_path: Path) -> None:
    """With ``submissions = no`` (the default), /submit and /moderate are 404 to GET and
    POST alike: nothing answers a POST."""
    site = Site(tmp_path, CONFIG.replace("submissions = yes", "submissions = no"))
    try:
        for method in ("GET", "POST"):
            assert site.request(method, "/submit")[0] == 404
            headers = {"Authorization": f"Bearer {TOKEN}"}
            assert site.request(method, "/moderate", headers=headers)[0] == 404
    finally:
        site.db.close()


def test_moderate_is_404_without_a_token(tmp_path: Path) -> None:
    """Without ``moderation_token``, /moderate does not exist (the command line moderates)."""
    site = Site(tmp_path, CONFIG.replace(f"moderation_token = {TOKEN}\n", ""))
    try:
        assert site.request("GET", "/moderate")[0] == 404
    finally:
        site.db.close()


def test_a_wrong_moderation_token_is_403(site: Site) -> None:
    """A wrong bearer token, or a wrong token in the login form, is 403; a right one
    lists the queue."""
    site.suggest("https://x.example.com/feed")
    assert site.request("GET", "/moderate", headers={"Authorization": "Bearer nope"})[0] == 403
    code, _, body = site.request(
        "POST", "/moderate", data={"csrf": site.csrf("/moderate"), "action": "login", "token": "no"}
    )
    assert code == 403
    assert "Wrong moderation token" in body
    code, _, body = site.request("GET", "/moderate", headers={"Authorization": f"Bearer {TOKEN}"})
    assert code == 200
    assert '"url":"https://x.example.com/feed"' in body


def test_actions_need_a_signed_in_moderator(site: Site) -> None:
    """Approving without a token or the login cookie is 403 and changes nothing."""
    site.suggest("https://x.example.com/feed")
    data = {"csrf": site.csrf("/moderate"), "action": "approve", "id": "1"}
    assert site.request("POST", "/moderate", data=data)[0] == 403
    assert site.approved == []


def test_the_login_form_signs_in_and_approves(site: Site) -> None:
    """The right token in the login form sets a cookie that lists the queue and approves."""
    site.suggest("https://x.example.com/feed")
    response = result_of(
        site.http.post(
            "http://planet.test/moderate",
            data={"csrf": site.csrf("/moderate"), "action": "login", "token": TOKEN},
        )
    )
    assert response.code == 200
    cookie = response.headers.getRawHeaders(b"set-cookie")[0].split(b";")[0]
    assert b"HttpOnly" in response.headers.getRawHeaders(b"set-cookie")[0]
    headers = {b"Cookie": [cookie]}
    code, _, body = site.request("GET", "/moderate", headers=headers)
    assert code == 200 and "https://x.example.com/feed" in body
    data = {"csrf": site.csrf("/moderate"), "action": "approve", "id": "1"}
    code, _, body = site.request("POST", "/moderate", data=data, headers=headers)
    assert code == 200, body
    assert [s.form.url for s in site.approved] == ["https://x.example.com/feed"]


def test_a_rejected_feed_stays_rejected_with_its_reason(site: Site) -> None:
    """Rejecting keeps the suggestion with its reason; suggesting the same URL (spelled
    differently) again is refused with that reason."""
    site.suggest("https://x.example.com/feed")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    data = {"action": "reject", "id": "1", "reason": "not about Python"}
    code, _, body = site.request("POST", "/moderate", data=data, headers=bearer)
    assert code == 200, body
    (kept,) = site.db.submission_queue().all()
    assert (kept.state, kept.reason) == (SubmissionState.REJECTED, "not about Python")
    code, _, body = site.suggest("HTTPS://X.example.com:443/feed")
    assert code == 400
    assert "rejected: not about Python" in body
    assert site.request("POST", "/moderate", data=data, headers=bearer)[0] == 409


def test_guessing_the_bearer_token_is_slowed_down(site: Site) -> None:
    """Wrong bearer tokens spend the address's bucket: after BURST wrong guesses the
    answer is 429 with Retry-After, even for the right token until the wait is over."""
    wrong = {"Authorization": "Bearer wrong-guess"}
    for _ in range(BURST):
        assert site.request("GET", "/moderate", headers=wrong)[0] == 403
    code, headers, _ = site.request("GET", "/moderate", headers=wrong)
    assert code == 429 and headers.getRawHeaders(b"retry-after")
    site.clock.advance(60)
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert site.request("GET", "/moderate", headers=right)[0] == 200
