"""Metrics that go nowhere: the default for every part that reports to ``/metrics``.

The poller, the parse pool and the output cache take a
:class:`planetd.boundaries.Metrics`; the command line and most tests have no
``/metrics`` to feed, so they get :data:`NULL_METRICS` without asking. The
daemon's wiring passes :class:`planetd.prometheus.PrometheusMetrics` instead.
Must not import Twisted or prometheus_client.
"""

from __future__ import annotations

from planetd.boundaries import PollReport


class NullMetrics:
    """A :class:`planetd.boundaries.Metrics` that drops every event."""

    def poll_finished(self, report: PollReport) -> None:
        """Drop it."""

    def fetch_finished(self, seconds: float) -> None:
        """Drop it."""

    def parse_finished(self, seconds: float) -> None:
        """Drop it."""

    def page_built(self, seconds: float) -> None:
        """Drop it."""

    def request_served(self, route: str, status: int) -> None:
        """Drop it."""

    def worker_restarted(self) -> None:
        """Drop it."""

    def reloaded(self, ok: bool) -> None:
        """Drop it."""


NULL_METRICS = NullMetrics()
