"""planetd: a feed aggregator daemon built on Twisted.

The package is a functional core (``config``, ``parse``, ``sanitize``,
``schedule``, ``river``, ``render``) with thin shells around it (``store``,
``fetch``, ``poller``, ``web``, ``service``, ``tap``, ``cli``);
``boundaries`` names the values that cross between them.
"""

__version__ = "0.1.0"
