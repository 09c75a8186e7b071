"""What a request may ask and who may ask it: the web face's small checks.

A part of the web shell (:mod:`planetd.web`, split from it for size): the
``/api/entries`` arguments (``limit`` within its cap, the ``hidden`` flag, an
entry id's shape), the plain 404 the routes answer, and whether a client is on
this machine (the guard of ``/metrics``). Each raises ValueError (which the
route turns into a 400) or answers a plain value; none touches the store.
Must not import the store's classes, sqlite3 or another shell.
"""

from __future__ import annotations

import ipaddress
import re

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.iweb import IRequest

from planetd.site import API_DEFAULT_LIMIT, API_MAX_LIMIT

#: What an entry id looks like (``/api/entries``' ``id``): a few URL-safe characters.
ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def not_found(request: IRequest, message: bytes) -> bytes:
    """A plain-text 404 saying ``message``."""
    request.setResponseCode(404)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return message


def is_local(request: IRequest) -> bool:
    """True for a client on this machine: a loopback address, or a UNIX socket."""
    address = request.getClientAddress()
    if not isinstance(address, IPv4Address | IPv6Address):
        return True  # a UNIX socket: only local processes can connect
    try:
        ip = ipaddress.ip_address(address.host.split("%")[0])
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def limit_arg(text: str | None) -> int:
    """``limit``: the API's default when absent, else a whole number within its cap."""
    if text is None:
        return API_DEFAULT_LIMIT
    if not text.isdigit() or len(text) > 6:
        raise ValueError(f"limit must be a whole number from 1 to {API_MAX_LIMIT}")
    value = int(text)
    if not 1 <= value <= API_MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {API_MAX_LIMIT}")
    return value


def flag_arg(text: str | None) -> bool:
    """``hidden``: 0, false or empty (or absent) is False; 1 or true is True."""
    if text is None or text in ("0", "false", ""):
        return False
    if text in ("1", "true"):
        return True
    raise ValueError("hidden must be 0 or 1")
