"""The ``twistd planetd`` plugin: one line, no imports beyond Twisted's service module.

``twistd --help`` imports every plugin, so this file must stay free of side
effects and heavy imports; :mod:`planetd.tap` is loaded only when the
``planetd`` subcommand is used.
"""

from twisted.application.service import ServiceMaker

planetd = ServiceMaker(
    "planetd",
    "planetd.tap",
    "A feed aggregator: polls RSS/Atom feeds and serves the river as HTML and JSON.",
    "planetd",
)
