"""A WebSub hub for tests: twisted.web on 127.0.0.1, verifying and pushing for real.

``POST /hub`` is the hub endpoint a subscriber talks to (W3C WebSub §5.1):
it answers 202, then verifies the intent with a GET to the callback carrying
a random ``hub.challenge`` (§5.3) and keeps the subscription only if the
callback echoes it. In ``deny`` mode it answers 202 and sends ``hub.mode=denied``
instead; in ``fail`` mode it answers 500.

The test's own controls:

* ``POST /publish?topic=T`` with a feed document as the body: POSTs it to
  every verified callback of ``T`` with ``X-Hub-Signature`` (``algo``,
  default sha256; ``secret`` overrides the subscriber's; ``unsigned=1`` sends
  none) and ``Link`` headers (``self`` overrides the topic), and answers
  JSON ``{"started": [...], "ended": [...], "statuses": [...]}`` (epoch seconds
  of each POST's start and answer, and its status).
* ``GET /subscriptions``: JSON ``{"requests": [...], "verified": {topic: [callback, ...]}}``.
* ``POST /mode?value=accept|deny|fail``.

Run as a script (``python websubhub.py``) it prints ``PORT <n>`` once it
listens; tests in process use :func:`start_hub`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import time
from typing import Any
from urllib.parse import urlencode

import treq
from treq.client import HTTPClient
from twisted.internet.defer import ensureDeferred
from twisted.web import resource, server
from twisted.web.client import Agent, HTTPConnectionPool

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
              "sha512": hashlib.sha512}  # fmt: skip


def _arg(request: Any, name: str, default: str | None = None) -> str | None:
    values = (request.args or {}).get(name.encode())
    return values[0].decode() if values else default


class Hub(resource.Resource):
    """The hub's state and every route; ``reactor`` is the real one."""

    isLeaf = True

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self.reactor = reactor
        # No kept-alive connections: a test's reactor must be clean when it ends.
        self.http = HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)))
        self.mode = "accept"
        #: Every subscription request as the form said it, in order.
        self.requests: list[dict[str, str]] = []
        #: topic -> callback -> secret, for verified subscriptions.
        self.verified: dict[str, dict[str, str]] = {}
        #: Every verification answer: (mode, topic, status, echoed).
        self.verifications: list[tuple[str, str, int, bool]] = []

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(
            {
                "requests": self.requests,
                "verified": {t: sorted(c) for t, c in self.verified.items()},
                "verifications": self.verifications,
            }
        ).encode()

    def render_POST(self, request: Any) -> bytes | int:
        path = request.path.decode()
        if path == "/mode":
            self.mode = _arg(request, "value", "accept") or "accept"
            return b"ok"
        if path == "/publish":
            body = request.content.read()
            d = ensureDeferred(self.publish(
                _arg(request, "topic") or "", body,
                algo=_arg(request, "algo", "sha256") or "sha256",
                secret=_arg(request, "secret"),
                unsigned=_arg(request, "unsigned") == "1",
                self_url=_arg(request, "self"),
            ))  # fmt: skip

            def answer(result: dict[str, Any]) -> None:
                request.setHeader(b"content-type", b"application/json")
                request.write(json.dumps(result).encode())
                request.finish()

            d.addCallback(answer)
            return server.NOT_DONE_YET
        # The hub endpoint.
        form = {k.decode(): v[0].decode() for k, v in (request.args or {}).items()}
        self.requests.append(form)
        if self.mode == "fail":
            request.setResponseCode(500)
            return b"hub failure"
        request.setResponseCode(202)
        self.reactor.callLater(0.01, lambda: ensureDeferred(self.verify(form)))
        return b""

    async def verify(self, form: dict[str, str]) -> None:
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        challenge = secrets.token_hex(8)
        query: dict[str, str] = {"hub.mode": mode, "hub.topic": topic}
        if self.mode == "deny":
            query = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": "not today"}
        else:
            query["hub.challenge"] = challenge
            if mode == "subscribe":
                query["hub.lease_seconds"] = form.get("hub.lease_seconds", "3600")
        sep = "&" if "?" in callback else "?"
        response = await self.http.get(callback + sep + urlencode(query), reactor=self.reactor)
        text = (await treq.content(response)).decode("utf-8", "replace")
        echoed = text == challenge
        self.verifications.append((query["hub.mode"], topic, response.code, echoed))
        if self.mode == "deny" or response.code != 200 or not echoed:
            return
        if mode == "subscribe":
            self.verified.setdefault(topic, {})[callback] = form.get("hub.secret", "")
        else:
            self.verified.get(topic, {}).pop(callback, None)

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        algo: str = "sha256",
        secret: str | None = None,
        unsigned: bool = False,
        self_url: str | None = None,
    ) -> dict[str, Any]:
        started: list[float] = []
        ended: list[float] = []
        statuses: list[int] = []
        for callback, their_secret in sorted(self.verified.get(topic, {}).items()):
            key = (secret if secret is not None else their_secret).encode()
            headers = {
                "Content-Type": ["application/atom+xml"],
                "Link": [f'<{self_url or topic}>; rel="self", <http://hub.invalid/>; rel="hub"'],
            }
            if not unsigned:
                digest = hmac.new(key, body, ALGORITHMS[algo]).hexdigest()
                headers["X-Hub-Signature"] = [f"{algo}={digest}"]
            started.append(time.time())
            response = await self.http.post(
                callback, data=body, headers=headers, reactor=self.reactor
            )
            await treq.content(response)
            ended.append(time.time())
            statuses.append(response.code)
        return {"started": started, "ended": ended, "statuses": statuses}


def start_hub(reactor: Any) -> tuple[Hub, Any, str]:
    """A hub listening on 127.0.0.1: the hub, its port, and its base URL."""
    hub = Hub(reactor)
    site = server.Site(hub)
    site.noisy = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    return hub, port, f"http://127.0.0.1:{port.getHost().port}"


class HubProcess:
    """This hub as a subprocess (``python websubhub.py``), driven over HTTP with urllib."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, __file__], stdout=subprocess.PIPE, text=True, env=env
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the hub did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def state(self) -> dict[str, Any]:
        """``GET /``: requests, verified subscriptions, verifications."""
        import urllib.request

        with urllib.request.urlopen(self.url + "/", timeout=10) as response:
            return dict(json.loads(response.read()))

    def publish(self, topic: str, body: bytes, **options: str) -> dict[str, Any]:
        """Push ``body`` to every verified subscriber of ``topic``; their answers."""
        import urllib.request

        query = urlencode({"topic": topic, **options})
        request = urllib.request.Request(f"{self.url}/publish?{query}", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))

    def stop(self) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def main() -> None:
    from twisted.internet import reactor

    _, port, _ = start_hub(reactor)
    sys.stdout.write(f"PORT {port.getHost().port}\n")
    sys.stdout.flush()
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()


__all__ = ["Hub", "HubProcess", "start_hub"]
