"""The poller with leases (several daemons, one planet): a due feed is polled only once
this daemon holds its claim, and a refused claim says when to ask again."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.defer import Deferred, fail, succeed

from planetd.boundaries import Claim, FeedStatus, FeedURL
from test_poller import START, A, Harness, body, ok


class ScriptedClaims:
    """Answers claims from a script: a retry time (refused), True (granted), or an error."""

    def __init__(self, harness: Harness, script: list[float | bool | Exception]) -> None:
        self.harness = harness
        self.script = script
        self.asked: list[float] = []

    def claim(self, url: FeedURL) -> Deferred[Claim]:
        self.asked.append(self.harness.clock.seconds() - START)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            return fail(answer)
        if answer is True:
            stored = self.harness.db.feed_state(url)
            assert stored is not None
            return succeed(Claim(state=stored, retry_at=self.harness.clock.seconds()))
        return succeed(Claim(state=None, retry_at=START + float(answer)))


def test_a_refused_claim_skips_the_poll_until_asked_again(tmp_path: Path) -> None:
    """A feed another daemon holds is not fetched; it is asked for again at the time the
    refusal named, and fetched once granted, from the state as stored."""
    h = Harness(tmp_path, [A], min_interval="1s")
    h.fetcher.scripts[A] = [ok(body(2))]
    claims = ScriptedClaims(h, [30.0, True])
    h.poller.claims = claims
    h.start()
    h.run_for(40, step=0.5)
    assert h.fetcher.times(A) and 30 <= h.fetcher.times(A)[0] <= 31
    assert len(claims.asked) == 2 and 30 <= claims.asked[1] <= 31
    assert h.poller.states[FeedURL(A)].last_polled_at is not None
    h.poller.stop()
    h.db.close()


def test_a_claim_that_fails_is_retried_after_min_interval(tmp_path: Path) -> None:
    """A store that cannot answer a claim (server restarting) costs a retry after
    ``min_interval``, never a fetch nor a busy loop."""
    h = Harness(tmp_path, [A], min_interval="10s")
    h.fetcher.scripts[A] = [ok(body(2))]
    claims = ScriptedClaims(h, [RuntimeError("server closed the connection"), True])
    h.poller.claims = claims
    h.start()
    h.run_for(5, step=0.5)
    assert h.fetcher.calls == [] and len(claims.asked) == 1
    h.run_for(10, step=0.5)
    assert len(claims.asked) == 2 and len(h.fetcher.calls) == 1
    assert h.poller.states[FeedURL(A)].status is FeedStatus.OK
    h.poller.stop()
    h.db.close()
