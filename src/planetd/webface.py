"""The web face of one planet, put together: renderer, site, output caches, Klein app.

Owns :func:`web_face`: how the renderer, the site, the output caches (the
river's and each group's), the stylesheet and the Klein app are put together
over a store, and reading the feeds' face files once. A composition root split
from :mod:`planetd.wiring` for size; the daemon's assembly and the tests build
every web face here. It must not import the poll path (:mod:`planetd.aggregation`)
nor :mod:`planetd.wiring`.

The web layer (Klein, Jinja2) is imported inside :func:`web_face` only, so
importing this module loads none of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.logger import Logger

from planetd.boundaries import AnswersCallbacks, Metrics, PlanetConfig, Stores
from planetd.faces import read_faces
from planetd.nometrics import NULL_METRICS

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.resource import IResource

    from planetd.livefeed import ChangeFeed
    from planetd.render import Renderer
    from planetd.submitweb import SubmitDesk
    from planetd.web import PlanetWeb

log = Logger()


def web_face(
    config: PlanetConfig,
    store: Stores,
    reactor: IReactorTime,
    *,
    is_running: Callable[[], bool] = lambda: True,
    rebuild_delay: float | None = None,
    metrics: Metrics = NULL_METRICS,
    metrics_page: IResource | None = None,
    root: str = "/",
    make_desk: Callable[[PlanetConfig, Renderer], SubmitDesk | None] | None = None,
    websub: AnswersCallbacks | None = None,
    live: ChangeFeed | None = None,
) -> PlanetWeb:
    """The web app of one planet over ``store``: every output cached, the stylesheet read once.

    Args:
        config: The planet (its templates: the operator's ``template_dir`` first).
        store: Where pages are read from.
        reactor: The clock of the output cache.
        is_running: Whether the poller runs (``/healthz`` says ok only then).
        rebuild_delay: Least seconds between two rebuilds of the pages (0: a request
            after a write always waits for the rebuild; None: the output cache's
            default, :data:`planetd.outputs.REBUILD_DELAY`).
        metrics: Told how long each build of the pages took.
        metrics_page: ``/metrics`` on this web face (None: 404 there).
        root: Where the planet is served (its mount when it is one of several).
        make_desk: ``/submit`` and ``/moderate`` for this face (None: both 404).
        websub: The WebSub callbacks at ``/websub/<id>`` (None: push is off).
        live: The change feed ``/events`` streams (None: no live river).

    The feeds' face files are read here, once: a missing one is logged and
    shows no face.
    """
    from planetd.livefeed import EventsResource
    from planetd.outputs import REBUILD_DELAY, OutputCache
    from planetd.render import Renderer, read_asset, read_stylesheet
    from planetd.site import Site
    from planetd.web import PlanetWeb

    faces = read_faces(config)
    for problem in faces.problems:
        log.warn("{problem}", problem=problem)
    renderer = Renderer(config, faces.files, root=root)
    site = Site(config, renderer, last_event=None if live is None else lambda: live.last_event_id)
    delay = REBUILD_DELAY if rebuild_delay is None else rebuild_delay
    groups = {
        group.slug: OutputCache(
            store, reactor, functools.partial(site.group_outputs, group=group),
            rebuild_delay=delay,
        )
        for group in site.groups
    }  # fmt: skip
    return PlanetWeb(
        site,
        OutputCache(
            store,
            reactor,
            site.build_river,
            lazy=site.lazy_builders(),
            rebuild_delay=delay,
            on_built=metrics.page_built,
        ),
        stylesheet=read_stylesheet(renderer),
        is_running=is_running,
        faces=faces.files,
        metrics=metrics_page,
        metrics_public=config.metrics_public,
        groups=groups,
        desk=None if make_desk is None else make_desk(config, renderer),
        websub=websub,
        events=None if live is None else EventsResource(live),
        live_script=b"" if live is None else read_asset(renderer, "live.js"),
    )
