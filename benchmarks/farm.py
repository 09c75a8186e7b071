"""A deterministic farm of realistic feeds, written to a folder, and its mutation.

Owns what the benchmark feeds look like. Feed ``i`` of a farm depends only on
the seed and ``i`` (its own ``random.Random``), so a farm of 200 is the first
200 feeds of a farm of 1,000 and every run of the benchmark polls the same
bytes. Nothing here touches the network or a clock.

A farm folder holds::

    base/       feed-00000.atom, feed-00001.rss, ...   the feeds as first served
    mutated/    the same names; 5% of the feeds gained 1-3 new entries, the
                others are hard links to base/ (same inode, same mtime, so a
                static server gives them the same ETag/Last-Modified)
    current     a symlink to base/ or mutated/: what the static server serves
    manifest.json

Feeds mix RSS 2.0 (some with ``content:encoded``) and Atom (escaped HTML or
inline XHTML content), 10-60 entries each, 0.5-12 KB of HTML content per entry
(paragraphs with links and inline code, code blocks, lists, images with
relative and absolute URLs, quotes, and the odd script or iframe a sanitizer
must remove), which gives 30-300 KB per feed. ``--small`` makes the 3-5 entry,
~3 KB feeds of the 10,000-feed scale run.

Usage::

    python benchmarks/farm.py generate DIR --feeds 200 [--seed 7] [--small]
    python benchmarks/farm.py mutate DIR [--fraction 0.05]
    python benchmarks/farm.py serve DIR base|mutated
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path

#: Every file's mtime before mutation (so ETag and Last-Modified are reproducible too).
FARM_MTIME = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
#: The mtime of a mutated file: later, so If-Modified-Since sees the change.
MUTATED_MTIME = FARM_MTIME + 86400
#: The newest entry of an unmutated feed is at most this old.
NEWEST = datetime(2025, 12, 1, tzinfo=timezone.utc)
FORMAT_VERSION = 1

_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "with",
    "as",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "or",
    "at",
    "an",
    "which",
    "but",
    "not",
    "have",
    "has",
    "had",
    "you",
    "they",
    "we",
    "can",
    "will",
    "one",
    "all",
    "their",
    "would",
    "there",
    "what",
    "about",
    "when",
    "so",
    "if",
    "more",
    "out",
    "up",
    "into",
    "no",
    "some",
    "than",
    "them",
    "then",
    "its",
    "also",
    "only",
    "new",
    "time",
    "twisted",
    "reactor",
    "deferred",
    "protocol",
    "transport",
    "factory",
    "callback",
    "errback",
    "service",
    "python",
    "feed",
    "parser",
    "entry",
    "atom",
    "rss",
    "river",
    "planet",
    "aggregator",
    "daemon",
    "poll",
    "schedule",
    "server",
    "client",
    "request",
    "response",
    "header",
    "cache",
    "etag",
    "socket",
    "thread",
    "process",
    "worker",
    "sqlite",
    "database",
    "index",
    "query",
    "transaction",
    "release",
    "version",
    "package",
    "module",
    "function",
    "class",
    "method",
    "type",
    "value",
    "error",
    "exception",
    "test",
    "coverage",
    "benchmark",
    "latency",
    "throughput",
    "memory",
    "performance",
    "build",
    "deploy",
    "container",
    "kernel",
    "network",
    "buffer",
    "stream",
    "async",
    "await",
    "generator",
    "iterator",
    "decorator",
    "context",
    "manager",
    "interface",
    "plugin",
    "option",
    "config",
    "file",
    "today",
    "yesterday",
    "week",
    "release",
    "notes",
    "announcing",
    "finally",
    "fixed",
    "improved",
    "added",
    "removed",
    "community",
    "conference",
    "talk",
    "slides",
    "video",
    "workshop",
    "sprint",
    "mentor",
    "contributor",
    "review",
]
_LANGS = ("python", "javascript", "rust", "go", "bash", "c")
_TAGS = (
    "python",
    "twisted",
    "release",
    "web",
    "async",
    "testing",
    "packaging",
    "django",
    "performance",
    "security",
    "community",
    "tutorial",
    "rust",
    "linux",
    "databases",
)
_CODE_LINES = (
    "from twisted.internet import reactor, defer",
    "def handle(request: Request) -> bytes:",
    "    return json.dumps({'ok': True, 'items': items[:10]}).encode()",
    "for i in range(10):",
    "    if value < limit and value > 0 && flag:",
    "        result.append(f\"<item id='{i}'>{name}</item>\")",
    "async def main() -> None:",
    "    d = agent.request(b'GET', url, Headers({'accept': ['*/*']}))",
    "    body = await treq.content(response)",
    "SELECT url, next_poll_at FROM feeds WHERE next_poll_at <= ? ORDER BY 2;",
    "let total: u64 = items.iter().map(|x| x.len() as u64).sum();",
    "$ pip install --upgrade planetd && twistd -n planetd --config planet.ini",
    "x = [a for a in range(100) if a % 3 == 0]  # a <list> & more",
    '    raise ValueError("expected <feed> or <rss>, got %r" % (tag,))',
)


@dataclass
class FeedInfo:
    """One feed of the manifest."""

    name: str
    format: str
    entries: int
    size: int
    mutated_entries: int = 0
    mutated_size: int = 0


@dataclass
class Farm:
    """A generated farm: where it is and what it holds."""

    folder: str
    seed: int
    small: bool
    feeds: list[FeedInfo] = field(default_factory=list)
    mutated: list[str] = field(default_factory=list)
    version: int = FORMAT_VERSION

    @property
    def path(self) -> Path:
        return Path(self.folder)

    def names(self, n: int | None = None) -> list[str]:
        return [f.name for f in self.feeds[: n if n is not None else len(self.feeds)]]

    def total_bytes(self, n: int | None = None, which: str = "base") -> int:
        feeds = self.feeds[: n if n is not None else len(self.feeds)]
        if which == "mutated":
            return sum(f.mutated_size or f.size for f in feeds)
        return sum(f.size for f in feeds)

    def save(self) -> None:
        (self.path / "manifest.json").write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, folder: str | Path) -> Farm:
        data = json.loads((Path(folder) / "manifest.json").read_text())
        data["feeds"] = [FeedInfo(**f) for f in data["feeds"]]
        return cls(**data)


# -- content ------------------------------------------------------------------------------


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(low, high)))


def _sentence(rng: random.Random) -> str:
    text = _words(rng, 6, 18)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "?", "!"))


def _inline(rng: random.Random, site: str) -> str:
    """A paragraph's inner HTML: sentences with links, emphasis and inline code."""
    parts = []
    for _ in range(rng.randint(2, 6)):
        sentence = escape(_sentence(rng), quote=False)
        roll = rng.random()
        if roll < 0.25:
            href = (
                f"/{rng.choice(_TAGS)}/{rng.randint(1, 9999)}.html"
                if rng.random() < 0.4
                else f"https://{rng.choice(_TAGS)}.example.org/"
                + _words(rng, 1, 3).replace(" ", "/")
            )
            sentence += f' See <a href="{href}">{escape(_words(rng, 1, 4))}</a>.'
        elif roll < 0.40:
            sentence += f" Use <code>{escape(rng.choice(_CODE_LINES).strip()[:40])}</code> here."
        elif roll < 0.50:
            sentence = f"<strong>{sentence}</strong>"
        elif roll < 0.58:
            sentence = f"<em>{sentence}</em>"
        parts.append(sentence)
    return " ".join(parts)


def _block(rng: random.Random, site: str, slug: str) -> str:
    """One block element of an entry's content."""
    roll = rng.random()
    if roll < 0.50:
        style = ' style="margin:0 0 1em"' if rng.random() < 0.05 else ""
        return f"<p{style}>{_inline(rng, site)}</p>\n"
    if roll < 0.62:
        lang = rng.choice(_LANGS)
        lines = "\n".join(escape(rng.choice(_CODE_LINES)) for _ in range(rng.randint(3, 14)))
        return f'<pre><code class="language-{lang}">{lines}</code></pre>\n'
    if roll < 0.74:
        tag = rng.choice(("ul", "ol"))
        items = "".join(f"<li>{_inline(rng, site)}</li>\n" for _ in range(rng.randint(2, 6)))
        return f"<{tag}>\n{items}</{tag}>\n"
    if roll < 0.84:
        n = rng.randint(1, 999)
        src = (
            f"/images/{slug}-{n}.png" if rng.random() < 0.5 else f"{site}/static/img/{slug}-{n}.jpg"
        )
        alt = escape(_words(rng, 2, 6))
        return (
            f'<p><img src="{src}" alt="{alt}" width="{rng.randint(200, 1200)}"'
            f' height="{rng.randint(100, 800)}" loading="lazy"></p>\n'
        )
    if roll < 0.90:
        return f"<blockquote><p>{_inline(rng, site)}</p></blockquote>\n"
    if roll < 0.96:
        level = rng.choice((2, 3))
        return f"<h{level}>{escape(_words(rng, 2, 6).title())}</h{level}>\n"
    if roll < 0.98:
        return (
            f'<iframe src="https://www.youtube.com/embed/{rng.randint(10**9, 10**10)}"'
            ' width="560" height="315" allowfullscreen></iframe>\n'
        )
    return (
        f'<script src="https://gist.github.com/someone/{rng.randint(10**6, 10**7)}.js"></script>\n'
        f'<p onclick="track()">{_inline(rng, site)}</p>\n'
    )


def _content(rng: random.Random, site: str, slug: str, small: bool) -> str:
    """HTML of 0.5-12 KB (log-uniform), or ~200-600 bytes for the small farm."""
    target = (
        rng.randint(200, 600)
        if small
        else int(math.exp(rng.uniform(math.log(500), math.log(12000))))
    )
    floor = 150 if small else 500
    out: list[str] = []
    size = 0
    for _ in range(1000):
        block = _block(rng, site, slug) if not small or rng.random() < 0.7 else ""
        if small and not block:
            block = f"<p>{_inline(rng, site)}</p>\n"
        if size >= floor and size + len(block) > target:
            break
        out.append(block)
        size += len(block)
    return "".join(out)


@dataclass
class _Entry:
    slug: str
    title: str
    link: str
    guid: str
    published: datetime
    updated: datetime
    author: str
    tags: list[str]
    html: str
    summary: str


def _entry(rng: random.Random, site: str, when: datetime, small: bool, tag_prefix: str) -> _Entry:
    title = _words(rng, 3, 9).title()
    if rng.random() < 0.1:
        title += " & <More>"
    slug = "-".join(title.lower().split()[:5]).replace("&", "and").replace("<", "").replace(">", "")
    slug = f"{slug}-{rng.randint(1000, 9999)}"
    link = f"{site}/{when:%Y/%m}/{slug}.html"
    html = _content(rng, site, slug, small)
    summary = _sentence(rng) + " " + _sentence(rng)
    updated = when + timedelta(hours=rng.randint(0, 48)) if rng.random() < 0.3 else when
    return _Entry(
        slug=slug,
        title=title,
        link=link,
        guid=f"tag:{tag_prefix},{when:%Y}:{slug}",
        published=when,
        updated=updated,
        author=rng.choice(("Ada", "Glyph", "Hynek", "Amber", "Moshe", "Jean-Paul", "Wilfredo"))
        + " "
        + rng.choice(("L.", "Brown", "Schlawack", "Hawkie", "Zadka", "Calderone", "Sánchez")),
        tags=rng.sample(_TAGS, rng.randint(0, 3)),
        html=html,
        summary=summary,
    )


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rss(meta: dict[str, str], entries: list[_Entry], style: str) -> str:
    items = []
    for e in entries:
        cats = "".join(f"<category>{c}</category>" for c in e.tags)
        if style == "encoded":
            body = (
                f"<description>{escape(e.summary)}</description>\n"
                f"<content:encoded><![CDATA[{e.html}]]></content:encoded>"
            )
        else:
            body = f"<description>{escape(e.html)}</description>"
        items.append(
            "<item>\n"
            f"<title>{escape(e.title)}</title>\n"
            f"<link>{e.link}</link>\n"
            f'<guid isPermaLink="false">{e.guid}</guid>\n'
            f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>\n"
            f"<dc:creator>{escape(e.author)}</dc:creator>\n"
            f"{cats}\n{body}\n</item>\n"
        )
    newest = max(e.published for e in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">\n'
        "<channel>\n"
        f"<title>{escape(meta['title'])}</title>\n"
        f"<link>{meta['site']}/</link>\n"
        f"<description>{escape(meta['subtitle'])}</description>\n"
        "<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>\n"
        f'<atom:link href="{meta["site"]}/feed.xml" rel="self" type="application/rss+xml"/>\n'
        "<generator>farm.py</generator>\n" + "".join(items) + "</channel>\n</rss>\n"
    )


def _atom(meta: dict[str, str], entries: list[_Entry], style: str) -> str:
    items = []
    for e in entries:
        cats = "".join(f'<category term="{c}"/>' for c in e.tags)
        if style == "xhtml":
            content = (
                f'<content type="xhtml" xml:base="{meta["site"]}/">'
                f'<div xmlns="http://www.w3.org/1999/xhtml">{_xhtml(e.html)}</div></content>'
            )
        else:
            content = f'<content type="html">{escape(e.html)}</content>'
        items.append(
            "<entry>\n"
            f'<title type="html">{escape(escape(e.title))}</title>\n'
            f'<link rel="alternate" type="text/html" href="{e.link}"/>\n'
            f"<id>{e.guid}</id>\n"
            f"<published>{_rfc3339(e.published)}</published>\n"
            f"<updated>{_rfc3339(e.updated)}</updated>\n"
            f"<author><name>{escape(e.author)}</name></author>\n"
            f"{cats}\n<summary>{escape(e.summary)}</summary>\n{content}\n</entry>\n"
        )
    newest = max(e.updated for e in entries)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        f"<title>{escape(meta['title'])}</title>\n"
        f"<subtitle>{escape(meta['subtitle'])}</subtitle>\n"
        f'<link rel="alternate" type="text/html" href="{meta["site"]}/"/>\n'
        f'<link rel="self" type="application/atom+xml" href="{meta["site"]}/atom.xml"/>\n'
        f"<id>{meta['site']}/</id>\n"
        f"<updated>{_rfc3339(newest)}</updated>\n"
        f"<author><name>{escape(meta['author'])}</name></author>\n"
        "<generator>farm.py</generator>\n" + "".join(items) + "</feed>\n"
    )


def _xhtml(html: str) -> str:
    """Our generated HTML as well-formed XHTML (void elements closed)."""
    return html.replace('loading="lazy">', 'loading="lazy"/>').replace(
        " allowfullscreen>", ' allowfullscreen="allowfullscreen">'
    )


def build_feed(
    seed: int, index: int, *, small: bool = False, extra: int = 0
) -> tuple[str, str, int]:
    """Feed ``index``'s file name, text and entry count; ``extra`` newer entries on top."""
    rng = random.Random(f"planetd-farm:{seed}:{index}")
    kind = rng.choice(("rss", "rss-encoded", "atom", "atom", "atom-xhtml"))
    fmt = "rss" if kind.startswith("rss") else "atom"
    style = kind.partition("-")[2]
    host = f"blog{index}.example.{rng.choice(('org', 'com', 'net', 'dev'))}"
    site = f"https://{host}"
    meta = {
        "title": _words(rng, 2, 5).title() + f" #{index}",
        "subtitle": _sentence(rng),
        "site": site,
        "author": _words(rng, 2, 2).title(),
    }
    count = rng.randint(3, 5) if small else rng.randint(10, 60)
    when = NEWEST - timedelta(hours=rng.randint(0, 24 * 20))
    entries = []
    for _ in range(count):
        entries.append(_entry(rng, site, when, small, host))
        when -= timedelta(hours=rng.randint(2, 24 * 10), minutes=rng.randint(0, 59))
    if extra:
        more = random.Random(f"planetd-farm:{seed}:{index}:mutate")
        when = max(e.published for e in entries)
        fresh = []
        for _ in range(extra):
            when += timedelta(hours=more.randint(1, 12))
            fresh.append(_entry(more, site, when, small, host))
        entries = list(reversed(fresh)) + entries
    text = _rss(meta, entries, style) if fmt == "rss" else _atom(meta, entries, style)
    return f"feed-{index:05d}.{fmt}", text, len(entries)


# -- the farm on disk ------------------------------------------------------------------------


def _write(path: Path, text: str, mtime: float) -> int:
    data = text.encode("utf-8")
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return len(data)


def generate(folder: str | Path, feeds: int, *, seed: int = 7, small: bool = False) -> Farm:
    """Write ``feeds`` feeds to ``folder``/base and point ``current`` at them.

    Reuses a farm already in ``folder`` if it was made with the same seed,
    size and kind (generation is deterministic, so the bytes would be equal).
    """
    path = Path(folder)
    manifest = path / "manifest.json"
    if manifest.exists():
        farm = Farm.load(path)
        if (farm.seed, farm.small, len(farm.feeds), farm.version) == (
            seed,
            small,
            feeds,
            FORMAT_VERSION,
        ) and all((path / "base" / f.name).exists() for f in farm.feeds):
            serve(farm, "base")
            return farm
    base = path / "base"
    base.mkdir(parents=True, exist_ok=True)
    farm = Farm(folder=str(path.resolve()), seed=seed, small=small)
    for i in range(feeds):
        name, text, count = build_feed(seed, i, small=small)
        size = _write(base / name, text, FARM_MTIME)
        farm.feeds.append(
            FeedInfo(name=name, format=name.rsplit(".", 1)[1], entries=count, size=size)
        )
    serve(farm, "base")
    farm.save()
    return farm


def mutate(farm: Farm, *, fraction: float = 0.05) -> list[str]:
    """Write ``mutated/``: ``fraction`` of the feeds (at least one) gain 1-3 entries."""
    rng = random.Random(f"planetd-farm:{farm.seed}:mutation")
    count = max(1, round(fraction * len(farm.feeds)))
    chosen = set(rng.sample(range(len(farm.feeds)), count))
    target = farm.path / "mutated"
    target.mkdir(exist_ok=True)
    farm.mutated = []
    for i, info in enumerate(farm.feeds):
        dest = target / info.name
        if dest.exists() or dest.is_symlink():
            dest.unlink()
        if i in chosen:
            extra = rng.randint(1, 3)
            _, text, entries = build_feed(farm.seed, i, small=farm.small, extra=extra)
            info.mutated_size = _write(dest, text, MUTATED_MTIME)
            info.mutated_entries = entries
            farm.mutated.append(info.name)
        else:
            os.link(farm.path / "base" / info.name, dest)
            info.mutated_size = info.size
            info.mutated_entries = info.entries
    farm.save()
    return farm.mutated


def serve(farm: Farm, which: str) -> None:
    """Point ``current`` at ``base`` or ``mutated`` (atomically: a symlink replaced)."""
    if which not in ("base", "mutated"):
        raise ValueError(which)
    link = farm.path / "current"
    tmp = farm.path / ".current.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(which)
    os.replace(tmp, link)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write N feeds to DIR/base")
    g.add_argument("folder")
    g.add_argument("--feeds", type=int, default=200)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--small", action="store_true", help="3-5 short entries per feed")
    m = sub.add_parser("mutate", help="write DIR/mutated: 5%% of feeds gain 1-3 entries")
    m.add_argument("folder")
    m.add_argument("--fraction", type=float, default=0.05)
    s = sub.add_parser("serve", help="point DIR/current at base or mutated")
    s.add_argument("folder")
    s.add_argument("which", choices=("base", "mutated"))
    args = parser.parse_args(argv)
    if args.command == "generate":
        farm = generate(args.folder, args.feeds, seed=args.seed, small=args.small)
        sizes = sorted(f.size for f in farm.feeds)
        print(
            f"{len(farm.feeds)} feeds, {farm.total_bytes() / 1e6:.1f} MB,"
            f" median {sizes[len(sizes) // 2] / 1e3:.0f} KB,"
            f" {sizes[0] / 1e3:.0f}-{sizes[-1] / 1e3:.0f} KB"
        )
    elif args.command == "mutate":
        farm = Farm.load(args.folder)
        changed = mutate(farm, fraction=args.fraction)
        print(f"{len(changed)} of {len(farm.feeds)} feeds gained entries")
    else:
        serve(Farm.load(args.folder), args.which)
    return 0


if __name__ == "__main__":
    sys.exit(main())
