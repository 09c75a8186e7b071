"""Approving and rejecting suggested feeds: one sequence for ``/moderate`` and the CLI.

Owns what a decision does, in order. Approving appends the feed's section to
the config file (:func:`append_feed`: its existing text kept byte for byte,
through the same :func:`planetd.datacommands.append_to_config` as ``planetd opml
import``), then marks the suggestion approved, then reloads the running
daemon the way ``SIGHUP`` does (in the daemon: its own reload;
from the command line: ``planetd reload``'s signal), so the feed is polled
within seconds. Rejecting keeps the suggestion with its reason, so the same
URL is refused when suggested again. Also the ``planetd submissions``
commands (``list``, ``show``, ``approve``, ``reject``) over the same
database. What is refused and in which words is
:mod:`planetd.submissions`'.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.threads import deferToThreadPool

from planetd.boundaries import StoresSubmissions, Submission, SubmissionForm, SubmissionState
from planetd.commands import CommandError
from planetd.config import load_config
from planetd.datacommands import append_to_config
from planetd.submissions import SubmissionRefusedError, check_reason, section_text

if TYPE_CHECKING:
    from planetd.boundaries import IDaemonReactor
    from planetd.store import Database


def append_feed(config_path: str, form: SubmissionForm) -> bool:
    """Append the suggested feed's section to the config unless it has the feed already.

    Blocking (reads and writes the file). True if a section was appended.
    """
    config = load_config(config_path)
    with open(config_path, "rb") as existing:
        original = existing.read()
    text = section_text(original, (f.url for f in config.feeds), form)
    if not text:
        return False
    append_to_config(config_path, config, original, text, 1)
    return True


class Approver:
    """Approves suggestions in the running daemon: config file, queue, then a reload.

    Args:
        reactor: Its thread pool writes the config file.
        store: The queue.
        config_path: The config file approvals append to.
        request_reload: Starts the daemon's reload: a Deferred to wait for, or None.
    """

    def __init__(
        self,
        reactor: IDaemonReactor,
        store: StoresSubmissions,
        config_path: str,
        request_reload: Callable[[], object],
    ) -> None:
        self.reactor = reactor
        self.store = store
        self.config_path = config_path
        self.request_reload = request_reload
        self._lock = DeferredLock()

    async def approve(self, submission: Submission) -> str:
        """Approve one pending suggestion; what was done, in a sentence."""
        await self._lock.acquire()
        try:
            appended = await deferToThreadPool(
                self.reactor,
                self.reactor.getThreadPool(),
                _append_or_refuse,
                self.config_path,
                submission.form,
            )
            now = datetime.fromtimestamp(self.reactor.seconds(), tz=timezone.utc)
            await self.store.decide_submission(submission.id, SubmissionState.APPROVED, None, now)
            reloading = self.request_reload()
            if isinstance(reloading, Deferred):
                await reloading
        finally:
            self._lock.release()
        where = "added to the config" if appended else "already in the config"
        return f"Approved {submission.form.url}: {where}, and the planet reloaded."


def _append_or_refuse(config_path: str, form: SubmissionForm) -> bool:
    """:func:`append_feed`, with a config that cannot be written said as a refusal."""
    try:
        return append_feed(config_path, form)
    except CommandError as e:
        raise SubmissionRefusedError(str(e)) from None


# -- planetd submissions -----------------------------------------------------------------


def _open(config_path: str, database: str | None, *, readonly: bool) -> Database:
    from planetd.store import open_database

    config = load_config(config_path)
    return open_database(database or config.database, readonly=readonly)


def _one(db: Database, sid: int) -> Submission:
    found = db.submission_queue().get(sid)
    if found is None:
        raise CommandError(f"no suggestion {sid}")
    return found


def _line(s: Submission) -> str:
    preview = "feed" if s.preview.parsed else "not a feed"
    fields = (str(s.id), s.state.value, s.created_at.strftime("%Y-%m-%d"), preview)
    return "\t".join((*fields, s.form.url, s.form.name))


def submissions_list(config_path: str, database: str | None, state: str | None) -> int:
    """``planetd submissions list``: one suggestion a line (id, state, date, preview, URL,
    name, tab-separated), oldest first; only those in ``state`` if given."""
    wanted = SubmissionState(state) if state else None
    db = _open(config_path, database, readonly=True)
    try:
        for s in db.submission_queue().all(wanted):
            print(_line(s))
    finally:
        db.close()
    return 0


def submissions_show(config_path: str, database: str | None, sid: int) -> int:
    """``planetd submissions show ID``: everything the queue keeps of one suggestion."""
    db = _open(config_path, database, readonly=True)
    try:
        s = _one(db, sid)
    finally:
        db.close()
    lines = [
        f"id: {s.id}",
        f"url: {s.form.url}",
        f"name: {s.form.name}",
        f"contact: {s.form.contact}",
        f"group: {s.form.group or '-'}",
        f"state: {s.state.value}",
        f"suggested: {s.created_at.isoformat()}",
        f"decided: {s.decided_at.isoformat() if s.decided_at else '-'}",
        f"reason: {s.reason or '-'}",
        f"preview: {'reads as a feed' if s.preview.parsed else 'not a feed'}",
        f"preview title: {s.preview.title or '-'}",
        *(f"preview entry: {t}" for t in s.preview.entries),
    ]
    if s.preview.error:
        lines.append(f"preview error: {s.preview.error}")
    print("\n".join(lines))
    return 0


def submissions_approve(
    config_path: str, database: str | None, sid: int, pidfile: str | None
) -> int:
    """``planetd submissions approve ID``: append the feed to the config, mark it approved,
    then ask the running daemon to reload (as ``planetd reload`` does)."""
    from planetd.commands import reload

    db = _open(config_path, database, readonly=False)
    try:
        s = _one(db, sid)
        if s.state is not SubmissionState.PENDING:
            raise CommandError(f"suggestion {sid} is already {s.state.value}")
        appended = append_feed(config_path, s.form)
        db.submission_queue().decide(sid, SubmissionState.APPROVED, None, _now())
    finally:
        db.close()
    where = "added to" if appended else "already in"
    print(f"approved {s.form.url}: {where} {config_path}")
    try:
        reload(config_path, pidfile)
    except CommandError as e:
        print(f"not reloaded ({e}); the daemon reads it at its next start or reload")
    return 0


def submissions_reject(config_path: str, database: str | None, sid: int, reason: str | None) -> int:
    """``planetd submissions reject ID [--reason TEXT]``: keep it rejected, with why."""
    try:
        why = check_reason(reason or "") or None
    except SubmissionRefusedError as e:
        raise CommandError(str(e)) from None
    db = _open(config_path, database, readonly=False)
    try:
        s = _one(db, sid)
        if s.state is not SubmissionState.PENDING:
            raise CommandError(f"suggestion {sid} is already {s.state.value}")
        db.submission_queue().decide(sid, SubmissionState.REJECTED, why, _now())
    finally:
        db.close()
    print(f"rejected {s.form.url}" + (f": {why}" if why else ""))
    sys.stdout.flush()
    return 0


def _now() -> datetime:
    return datetime.now(timezone.utc)
