"""``/submit`` and ``/moderate`` over HTTP: the forms, their guards, and the answers.

Owns the HTTP side of suggested feeds, in the order a request meets it:
``POST /submit`` checks the form's CSRF token (``403``), then the client
address's rate limit (``429`` with ``Retry-After``), then the queue's cap
(``503``), then the fields (``400`` saying why), then runs the preview fetch
(a connection the address policy refused is a ``400`` saying why) and
queues the suggestion. ``/moderate`` opens with the ``moderation_token``,
sent as ``Authorization: Bearer TOKEN`` (scripts; answered in JSON) or typed
into its login form (a cookie derived from the token and the daemon's secret
then signs the browser in; its forms carry CSRF tokens too). A wrong token
is a ``403``; tokens are compared in constant time; every action is logged.

The rules are :mod:`planetd.submissions`'; the queue is the store's
(:class:`planetd.boundaries.StoresSubmissions`); the preview fetch and the
approval (config file, reload) are callables the composition root hands in.
:class:`DeskState` (the secret and the rate-limit buckets) outlives a
reload's new web face. A part of the web shell: :mod:`planetd.web` routes here.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from twisted.logger import Logger

from planetd.boundaries import (
    PlanetConfig,
    Preview,
    StoresSubmissions,
    Submission,
    SubmissionForm,
    SubmissionState,
)
from planetd.httpcache import CSP
from planetd.httpcache import query_arg as _arg
from planetd.shapes import dump_json, submissions_document
from planetd.submissions import (
    MAX_CONTACT,
    MAX_GROUP,
    MAX_NAME,
    MAX_REASON,
    MAX_URL,
    QUEUE_CAP,
    Bucket,
    QueueFullError,
    SubmissionRefusedError,
    check_csrf_token,
    check_form,
    check_queued,
    check_reason,
    group_names,
    live_buckets,
    make_csrf_token,
    queue_full,
    take_token,
    token_matches,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime
    from twisted.web.iweb import IRequest

    from planetd.render import Renderer

#: Fetches and reads a URL: its preview, and why the address policy refused it (or None).
PreviewFn = Callable[[str], Awaitable[tuple[Preview, str | None]]]
#: Approves a pending suggestion (config file, store, reload); says what was done.
ApproveFn = Callable[[Submission], Awaitable[str]]

_COOKIE = b"planetd_moderator"
_LIMITS = {"url": MAX_URL, "name": MAX_NAME, "contact": MAX_CONTACT, "group": MAX_GROUP}
_EMPTY = SubmissionForm(url="", name="", contact="")
#: Addresses whose buckets are kept before the full ones are dropped.
_MAX_BUCKETS = 10_000


class DeskState:
    """What outlives one web face: the daemon's CSRF secret, and each address's bucket."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret if secret is not None else os.urandom(32)
        self.buckets: dict[str, Bucket] = {}


class SubmitDesk:
    """The two pages of suggested feeds for one planet's web face.

    Args:
        config: The planet (whether submissions are on, the token, private feeds).
        renderer: Renders ``submit.html`` and ``moderate.html``.
        store: The queue.
        clock: Times the tokens, buckets and queue entries.
        state: The secret and buckets, shared by every web face of the daemon.
        preview: The preview fetch.
        approve: What approving does.
    """

    log = Logger()

    def __init__(
        self,
        config: PlanetConfig,
        renderer: Renderer,
        store: StoresSubmissions,
        clock: IReactorTime,
        state: DeskState,
        *,
        preview: PreviewFn,
        approve: ApproveFn,
    ) -> None:
        self.config = config
        self.renderer = renderer
        self.store = store
        self.clock = clock
        self.state = state
        self.preview = preview
        self.approve = approve
        self.groups = group_names(config)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc)

    # -- /submit ----------------------------------------------------------------------

    async def submit(self, request: IRequest) -> bytes:
        """``GET /submit`` shows the form; ``POST /submit`` checks and queues a suggestion."""
        if request.method != b"POST":
            return self._submit_page(request, 200)
        if not check_csrf_token(self.state.secret, _arg(request, "csrf"), self.clock.seconds()):
            self.log.warn(
                "submission refused: bad CSRF token from {client}", client=_client(request)
            )
            return self._submit_page(
                request, 403, error="This form has expired or is not ours; please send it again."
            )
        wait = self._spend(request)
        if wait is not None:
            request.setHeader(b"retry-after", str(math.ceil(wait)).encode())
            return self._submit_page(
                request, 429, error=f"Too many suggestions; try again in {math.ceil(wait)} s."
            )
        fields = {k: _arg(request, k) or "" for k in ("url", "name", "contact", "group")}
        typed = SubmissionForm(
            url=fields["url"][:MAX_URL],
            name=fields["name"][:MAX_NAME],
            contact=fields["contact"][:MAX_CONTACT],
            group=fields["group"][:MAX_GROUP],
        )
        if queue_full(await self.store.pending_count()):
            return self._full(request, typed)
        try:
            form = check_form(
                fields["url"],
                fields["name"],
                fields["contact"],
                fields["group"],
                subscribed=(f.url for f in self.config.feeds),
                groups=self.groups,
                allow_private=self.config.allow_private_feeds,
            )
            check_queued(await self.store.find_submission(form.url))
            preview, refused = await self.preview(form.url)
            if refused is not None:
                raise SubmissionRefusedError(f"refused: {refused}")
            queued = await self.store.add_submission(form, preview, self.now(), QUEUE_CAP)
        except QueueFullError:
            return self._full(request, typed)
        except SubmissionRefusedError as e:
            self.log.info(
                "submission refused from {client}: {url}: {reason}",
                client=_client(request),
                url=fields["url"][:200],
                reason=str(e),
            )
            return self._submit_page(request, 400, error=str(e), form=typed)
        self.log.info(
            "submission {id} queued from {client}: {url} (preview: {parsed})",
            id=queued.id,
            client=_client(request),
            url=queued.form.url,
            parsed="a feed" if preview.parsed else preview.error,
        )
        return self._submit_page(
            request, 200, message="Thank you: your suggestion waits for a moderator."
        )

    def _spend(self, request: IRequest) -> float | None:
        """Take one token from the client's bucket: None, or the seconds to wait."""
        now = self.clock.seconds()
        buckets = self.state.buckets
        if len(buckets) > _MAX_BUCKETS:
            buckets = self.state.buckets = live_buckets(buckets, now)
        address = _client(request)
        buckets[address], wait = take_token(buckets.get(address), now)
        return wait

    def _full(self, request: IRequest, form: SubmissionForm) -> bytes:
        request.setHeader(b"retry-after", b"3600")
        return self._submit_page(
            request,
            503,
            error="Too many suggestions wait for a moderator; try again later.",
            form=form,
        )

    def _submit_page(
        self,
        request: IRequest,
        code: int,
        *,
        error: str | None = None,
        message: str | None = None,
        form: SubmissionForm = _EMPTY,
    ) -> bytes:
        body = self.renderer.submission_page(
            "submit.html",
            self.now(),
            csrf=make_csrf_token(self.state.secret, self.clock.seconds()),
            error=error,
            message=message,
            form=form,
            group_choices=self.groups,
            limits=_LIMITS,
        )
        return _html(request, code, body)

    # -- /moderate --------------------------------------------------------------------

    async def moderate(self, request: IRequest) -> bytes:
        """The moderation page: sign in, list the pending suggestions, approve or reject."""
        bearer = _bearer(request)
        if bearer is not None and not token_matches(bearer, self.config.moderation_token):
            wait = self._spend(request)
            if wait is not None:  # guessing tokens: slowed down like suggestions
                request.setHeader(b"retry-after", str(math.ceil(wait)).encode())
                return _json(request, 429, {"error": "too many attempts; try again later"})
            self.log.warn(
                "moderation refused: wrong bearer token from {client}", client=_client(request)
            )
            return _json(request, 403, {"error": "wrong moderation token"})
        signed_in = bearer is not None or self._cookie_ok(request)
        if request.method != b"POST":
            if bearer is not None:
                pending = await self.store.submissions(SubmissionState.PENDING)
                return _answer(request, 200, submissions_document(pending))
            return await self._moderate_page(request, 200, signed_in=signed_in)
        if bearer is None and not check_csrf_token(
            self.state.secret, _arg(request, "csrf"), self.clock.seconds()
        ):
            return await self._moderate_page(
                request, 403, signed_in=False, error="This form has expired; please sign in again."
            )
        action = _arg(request, "action") or ""
        if action == "login":
            return await self._login(request)
        if not signed_in:
            return await self._moderate_page(
                request, 403, signed_in=False, error="Sign in with the moderation token first."
            )
        return await self._decide(request, action, json_answer=bearer is not None)

    async def _login(self, request: IRequest) -> bytes:
        wait = self._spend(request)
        if wait is not None:
            request.setHeader(b"retry-after", str(math.ceil(wait)).encode())
            return await self._moderate_page(
                request, 429, signed_in=False, error="Too many attempts; try again later."
            )
        if not token_matches(_arg(request, "token"), self.config.moderation_token):
            self.log.warn("moderation refused: wrong token from {client}", client=_client(request))
            return await self._moderate_page(
                request, 403, signed_in=False, error="Wrong moderation token."
            )
        self.log.info("moderator signed in from {client}", client=_client(request))
        secure = b"; Secure" if request.isSecure() else b""
        request.responseHeaders.addRawHeader(
            b"set-cookie",
            _COOKIE
            + b"="
            + self._cookie_value().encode()
            + b"; Path=/moderate; HttpOnly; SameSite=Strict"
            + secure,
        )
        return await self._moderate_page(request, 200, signed_in=True)

    async def _decide(self, request: IRequest, action: str, *, json_answer: bool) -> bytes:
        text = _arg(request, "id") or ""
        known = text.isdigit() and len(text) < 12
        found = await self.store.submission(int(text)) if known else None
        problem: tuple[int, str] | None = None
        if action not in ("approve", "reject"):
            problem = (400, "action must be approve or reject")
        elif found is None:
            problem = (404, f"no suggestion {text[:20]!r}")
        elif found.state is not SubmissionState.PENDING:
            problem = (409, f"suggestion {found.id} is already {found.state.value}")
        if problem is not None or found is None:
            code, error = problem or (404, "no such suggestion")
            if json_answer:
                return _json(request, code, {"error": error})
            return await self._moderate_page(request, code, signed_in=True, error=error)
        try:
            if action == "approve":
                message = await self.approve(found)
            else:
                reason = check_reason(_arg(request, "reason") or "") or None
                await self.store.decide_submission(
                    found.id, SubmissionState.REJECTED, reason, self.now()
                )
                message = f"Rejected {found.form.url}" + (f": {reason}" if reason else ".")
        except (SubmissionRefusedError, OSError, ValueError) as e:
            if json_answer:
                return _json(request, 400, {"error": str(e)})
            return await self._moderate_page(request, 400, signed_in=True, error=str(e))
        self.log.info(
            "moderation: {action} suggestion {id} ({url}) from {client}: {message}",
            action=action,
            id=found.id,
            url=found.form.url,
            client=_client(request),
            message=message,
        )
        if json_answer:
            return _json(request, 200, {"id": found.id, "action": action, "message": message})
        return await self._moderate_page(request, 200, signed_in=True, message=message)

    def _cookie_value(self) -> str:
        token = (self.config.moderation_token or "").encode("utf-8")
        return hmac.new(self.state.secret, b"moderator:" + token, hashlib.sha256).hexdigest()

    def _cookie_ok(self, request: IRequest) -> bool:
        given = request.getCookie(_COOKIE)
        if not given or not self.config.moderation_token:
            return False
        return hmac.compare_digest(given, self._cookie_value().encode())

    async def _moderate_page(
        self,
        request: IRequest,
        code: int,
        *,
        signed_in: bool,
        error: str | None = None,
        message: str | None = None,
    ) -> bytes:
        pending = await self.store.submissions(SubmissionState.PENDING) if signed_in else []
        body = self.renderer.submission_page(
            "moderate.html",
            self.now(),
            csrf=make_csrf_token(self.state.secret, self.clock.seconds()),
            signed_in=signed_in,
            pending=pending,
            error=error,
            message=message,
            reason_limit=MAX_REASON,
        )
        return _html(request, code, body)


def _html(request: IRequest, code: int, body: bytes) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"content-security-policy", CSP.encode())
    return body


def _json(request: IRequest, code: int, value: object) -> bytes:
    return _answer(request, code, dump_json(value))


def _answer(request: IRequest, code: int, body: bytes) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return body


def _bearer(request: IRequest) -> str | None:
    header = request.getHeader(b"authorization")
    if header is None:
        return None
    text = header.decode("latin-1") if isinstance(header, bytes) else str(header)
    scheme, _, token = text.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _client(request: IRequest) -> str:
    return str(getattr(request.getClientAddress(), "host", "local"))
