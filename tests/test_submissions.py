"""Suggested feeds: the pure rules, the queue in SQLite, and ``planetd submissions``.

The rules are plain functions over values (no clock, no network); the queue
runs on a real SQLite file; the command line runs as a user runs it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from builders import utc
from conftest import planetd_cli, subprocess_env
from planetd.boundaries import Preview, Submission, SubmissionForm, SubmissionState
from planetd.config import ConfigError, load_config, parse_config
from planetd.moderation import append_feed
from planetd.store import open_database
from planetd.submissions import (
    BURST,
    REFILL_SECONDS,
    QueueFullError,
    SubmissionRefusedError,
    address_problem,
    check_csrf_token,
    check_form,
    make_csrf_token,
    normalise_url,
    section_text,
    take_token,
    token_matches,
)

SECRET = b"k" * 32


def form(url: str, **kw: object) -> SubmissionForm:
    return check_form(url, "Name", "me@example.org", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, kind: str) -> None:
    """Every non-public range, in IPv4 and IPv6 (IPv4-mapped judged as IPv4), is refused
    and named; allow_private_feeds lets each through."""
    problem = address_problem(address)
    assert problem is not None and kind in problem
    assert address_problem(address, allow_private=True) is None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:85e5", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    """Public unicast addresses pass the policy."""
    assert address_problem(address) is None


def test_urls_are_normalised_before_they_are_compared() -> None:
    """Scheme and host case, the default port, the fragment and an empty path do not make
    a feed new; the path and query do."""
    assert normalise_url("HTTPS://Example.ORG:443#x") == "https://example.org/"
    assert normalise_url("http://example.org:8080/a?b=1") == "http://example.org:8080/a?b=1"
    with pytest.raises(SubmissionRefusedError, match="already subscribes"):
        form("HTTPS://A.example.org:443/feed", subscribed=["https://a.example.org/feed"])


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (("file:///etc/passwd", "n", "c"), "only http and https"),
        (("javascript:alert(1)", "n", "c"), "only http and https"),
        (("http:///nohost", "n", "c"), "no host"),
        (("http://x.example/a b", "n", "c"), "spaces"),
        (("https://x.example/", "", "c"), "the name is required"),
        (("https://x.example/", "n", ""), "the contact is required"),
        (("https://x.example/", "n" * 201, "c"), "the name is longer than 200"),
        (("https://x.example/", "n", "c" * 201), "the contact is longer than 200"),
        (("https://x.example/" + "p" * 2000, "n", "c"), "the feed URL is longer than 2000"),
        (("https://x.example/", "a\n[Planet]", "c"), "line breaks"),
        (("http://127.0.0.1/", "n", "c"), "loopback"),
        (("http://[::1]:8080/", "n", "c"), "loopback"),
    ],
)
def test_bad_fields_are_refused_saying_which(fields: tuple[str, str, str], says: str) -> None:
    """Each field is checked for presence, length and line breaks (a name becomes a
    config line); only http(s) URLs with a host; IP literals by the address policy."""
    with pytest.raises(SubmissionRefusedError, match=says):
        check_form(*fields)


def test_a_group_must_be_one_the_planet_has() -> None:
    """An optional group is accepted only among the planet's groups."""
    assert form("https://x.example/", group="Python", groups=["Python"]).group == "Python"
    with pytest.raises(SubmissionRefusedError, match="no group"):
        form("https://x.example/", group="Other", groups=["Python"])


def test_csrf_tokens_are_signed_and_expire() -> None:
    """A token is valid under its secret for two hours; another secret, a changed time,
    a changed MAC, garbage or an expired token are refused."""
    token = make_csrf_token(SECRET, 1_000_000.0)
    assert check_csrf_token(SECRET, token, 1_000_000.0 + 3600)
    assert not check_csrf_token(b"other" * 8, token, 1_000_000.0)
    stamp, mac = token.split(".")
    assert not check_csrf_token(SECRET, f"{int(stamp) + 1}.{mac}", 1_000_000.0)
    assert not check_csrf_token(SECRET, f"{stamp}.{mac[:-1]}0", 1_000_000.0)
    assert not check_csrf_token(SECRET, "garbage", 1_000_000.0)
    assert not check_csrf_token(SECRET, None, 1_000_000.0)
    assert not check_csrf_token(SECRET, token, 1_000_000.0 + 3 * 3600)


def test_moderation_tokens_match_only_exactly() -> None:
    """The moderation token matches only itself; nothing matches an unset one."""
    assert token_matches("s3cret-token-long", "s3cret-token-long")
    assert not token_matches("s3cret-token-lon", "s3cret-token-long")
    assert not token_matches("", None)


def test_the_token_bucket_allows_a_burst_then_one_per_refill() -> None:
    """BURST suggestions pass at once; the next waits REFILL_SECONDS; after that wait
    exactly one more passes."""
    bucket = None
    for _ in range(BURST):
        bucket, wait = take_token(bucket, 100.0)
        assert wait is None
    bucket, wait = take_token(bucket, 100.0)
    assert wait == pytest.approx(REFILL_SECONDS)
    bucket, wait = take_token(bucket, 100.0 + REFILL_SECONDS)
    assert wait is None
    _, wait = take_token(bucket, 100.0 + REFILL_SECONDS)
    assert wait is not None


def test_the_section_keeps_the_config_byte_for_byte() -> None:
    """The appended text follows the config's own line endings and adds the group."""
    original = b"[Planet]\r\nname = P\r\n; a comment"
    text = section_text(original, [], SubmissionForm("https://x.example/", "X", "c", "Py"))
    assert text == "\r\n\r\n[https://x.example/]\r\nname = X\r\ngroup = Py\r\n"
    assert (
        section_text(
            original, ["https://x.example/"], SubmissionForm("https://x.example/", "X", "c")
        )
        == ""
    )


def test_moderation_tokens_shorter_than_16_characters_are_refused(tmp_path: Path) -> None:
    """A short moderation token is a config error naming the key."""
    with pytest.raises(ConfigError, match="moderation_token"):
        parse_config("[Planet]\nmoderation_token = short\n", str(tmp_path / "p.ini"))
    config = parse_config("[Planet]\nsubmissions = yes\n", str(tmp_path / "p.ini"))
    assert config.submissions and not config.allow_private_feeds and config.moderation_token is None


# -- the queue --------------------------------------------------------------------------


def queued(queue: object, url: str) -> Submission:
    return queue.add(SubmissionForm(url, "N", "c"), Preview(), utc(2026, 7, 1), 3)  # type: ignore[attr-defined]


def test_the_queue_refuses_duplicates_and_keeps_rejections(tmp_path: Path) -> None:
    """A URL is queued once; a rejected one stays rejected with its reason; the cap
    counts only pending suggestions."""
    db = open_database(str(tmp_path / "p.sqlite"))
    try:
        queue = db.submission_queue()
        first = queued(queue, "https://a.example/")
        with pytest.raises(SubmissionRefusedError, match="waits for a moderator"):
            queued(queue, "https://a.example/")
        queue.decide(first.id, SubmissionState.REJECTED, "off topic", utc(2026, 7, 2))
        with pytest.raises(SubmissionRefusedError, match="rejected: off topic"):
            queued(queue, "https://a.example/")
        queued(queue, "https://b.example/")
        queued(queue, "https://c.example/")
        queued(queue, "https://d.example/")
        with pytest.raises(QueueFullError):
            queued(queue, "https://e.example/")
        assert queue.pending() == 3
        assert [s.form.url for s in queue.all(SubmissionState.REJECTED)] == ["https://a.example/"]
    finally:
        db.close()


def test_a_schema_3_database_gains_the_queue(tmp_path: Path) -> None:
    """A database written before suggestions (schema 3) is migrated in place: the queue's
    table is created after the migrations before it, entries stay."""
    import sqlite3

    from planetd.schema import SCHEMA_VERSION

    path = str(tmp_path / "old.sqlite")
    open_database(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE submissions")
        conn.execute("DROP TABLE websub")
        conn.execute("ALTER TABLE feeds DROP COLUMN parser")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    db = open_database(path)
    try:
        assert db.migrate() == SCHEMA_VERSION == 6
        assert queued(db.submission_queue(), "https://a.example/").id == 1
    finally:
        db.close()


# -- the command line --------------------------------------------------------------------

PLANET = """# The planet's own comment, kept byte for byte.
[Planet]
name = Planet CLI
submissions = yes

; a feed we like
[https://kept.example/feed]
name = Kept
"""


def test_the_command_line_lists_shows_approves_and_rejects(tmp_path: Path) -> None:
    """``planetd submissions`` works on the daemon's database: list and show print the
    queue; approve appends the section (the config's text kept) and says no daemon ran;
    reject keeps the reason; deciding twice is an error."""
    config = tmp_path / "planet.ini"
    config.write_text(PLANET)
    db = open_database(str(tmp_path / "planetd.sqlite"))
    queue = db.submission_queue()
    queued(queue, "https://new.example/feed")
    queued(queue, "https://spam.example/feed")
    db.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*planetd_cli(), "submissions", *args, "--config", str(config)],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            cwd=tmp_path,
            timeout=60,
        )

    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert "1\tpending" in listed.stdout and "https://spam.example/feed" in listed.stdout
    shown = run("show", "1")
    assert "url: https://new.example/feed" in shown.stdout
    approved = run("approve", "1")
    assert approved.returncode == 0, approved.stderr
    assert "not reloaded" in approved.stdout
    text = config.read_text()
    assert text.startswith(PLANET)
    assert text[len(PLANET) :] == "\n[https://new.example/feed]\nname = N\n"
    assert [f.url for f in load_config(str(config)).feeds][-1] == "https://new.example/feed"
    rejected = run("reject", "2", "--reason", "spam")
    assert rejected.returncode == 0, rejected.stderr
    again = run("approve", "2")
    assert again.returncode == 1 and "already rejected" in again.stderr
    assert "2\trejected" in run("list", "--state", "rejected").stdout


def test_approving_a_feed_the_config_has_appends_nothing(tmp_path: Path) -> None:
    """Approval appends nothing when the config already has the feed (added by hand)."""
    config = tmp_path / "planet.ini"
    config.write_text(PLANET)
    assert not append_feed(str(config), SubmissionForm("https://kept.example/feed", "K", "c"))
    assert config.read_text() == PLANET
