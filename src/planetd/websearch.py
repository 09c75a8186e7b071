"""The search's answers over HTTP: the page saying why a query cannot run, and the API's.

A part of the web shell (:mod:`planetd.web`, split from it for size): the
``/search`` route stays there and comes here for the page of a query that
cannot run (a 400), and ``/api/entries?q=`` comes here for the entries a
search finds, best first, with snippets, or the 400 saying why not. What the
bytes say is :class:`planetd.site.Site`'s and when they are built is
:class:`planetd.outputs.OutputCache`'s; this module only sequences them.
Must not import the store's classes, sqlite3 or another shell.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from planetd.boundaries import FeedURL, Group, Output, SearchTooSlowError
from planetd.httpcache import bad_request, query_arg, serve
from planetd.outputs import OutputCache
from planetd.search import SearchSyntaxError, decode_search_cursor, parse_query
from planetd.site import HTML, JSON, Site


async def search_error_page(
    outputs: OutputCache, site: Site, request: IRequest, text: str, error: str
) -> bytes:
    """The search page saying why a query cannot run, with a 400."""
    cached = await outputs.computed(
        f"/search!{error}&{text}",
        lambda db, now: Output(site.search_error_page(db, now, text, error), HTML),
    )
    assert cached is not None
    request.setResponseCode(400)
    return serve(request, cached)


async def search_api(
    outputs: OutputCache,
    site: Site,
    request: IRequest,
    limit: int,
    feed: str | None,
    hidden: bool,
    group: Group | None = None,
) -> bytes:
    """``/api/entries?q=``: the entries a search finds, best first, with snippets."""
    before_text = query_arg(request, "before")
    try:
        query = parse_query(query_arg(request, "q") or "")
        offset = decode_search_cursor(before_text) if before_text else 0
    except SearchSyntaxError as e:
        return bad_request(request, str(e))
    try:
        cached = await outputs.computed(
            f"/api/entries?q={query.text}&{limit}&{offset}&{feed}&{hidden}&{group and group.slug}",
            lambda db, _: Output(
                site.search_api(
                    db,
                    query,
                    limit=limit,
                    offset=offset,
                    feed=FeedURL(feed) if feed else None,
                    hidden=hidden,
                    group=group,
                ),
                JSON,
            ),
        )
    except SearchTooSlowError as e:
        return bad_request(request, str(e))
    assert cached is not None
    return serve(request, cached)
