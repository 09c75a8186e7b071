"""Reading py-spy's raw (collapsed-stack) output into where the time goes.

Owns two views of one profile: samples per *role* (parse workers, the reactor
thread, the SQLite threads, the process pool's manager thread) and, within a
role, the functions that hold the most samples inclusively (a function counts
once per stack, however deep it recurses). py-spy samples each thread at a
fixed rate whether it runs or waits for the GIL, so a role's share is its
share of wall-clock thread time, not of CPU. Stacks that end in a wait (a
condition, ``select``/``epoll``) are idle threads and are left out.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

_LINE = re.compile(r":\d+\)$")
#: py-spy's leading ``process PID:"command line";`` frames (a command line may hold ``;``).
_PROCESS = re.compile(r'^(?:process \d+:".*?";)+')
#: A stack whose innermost frame is one of these is a thread waiting, not working.
_IDLE_LEAVES = (
    "Condition.wait (threading.py",
    "_PollLikeSelector.select (selectors.py",
    "EPollReactor.doPoll (twisted/internet/epollreactor.py",
    "Event.wait (threading.py",
    "wait (multiprocessing/connection.py",
)

#: (role, a frame that identifies it), first match wins.
ROLES = (
    ("parse workers", "_process_worker (concurrent/futures/process.py"),
    ("SQLite writer/reader threads", "(planetd/dbthreads.py"),
    ("process pool manager thread", "_ExecutorManagerThread"),
    ("reactor thread", "mainLoop (twisted/internet/base.py"),
    ("reactor thread", "react (twisted/internet/task.py"),
    ("startup and imports", "<frozen importlib._bootstrap>"),
)

#: Frames too generic to name where time goes.
_BORING = (
    "runApp", "postApplication", "startReactor", "runReactorWithLogging", "callWithLogger",
    "_doReadOrWrite", "ContextTracker", "maybeDeferred", "ensureDeferred", "addCallback",
    "_startRunCallbacks", "callback (", "ApplicationRunner", "run (twisted",
    "<module>", "main (", "run (", "_bootstrap", "Thread.run", "work (", "inContext",
    "callWithContext", "mainLoop", "runUntilCurrent", "doIteration", "doPoll", "react (",
    "_process_worker", "BaseProcess", "_serve_one", "_main (multiprocessing", "process ",
    "Deferred", "_inlineCallbacks", "_runCallbacks", "_cancellableInlineCallbacks",
    "Team.", "ThreadPool.", "_threadworker", "ThreadWorker", "LockWorker", "doWork",
    "callInThreadWithCallback", "_gotResultInlineCallbacks", "fromCoroutine", "send (",
)  # fmt: skip


def _role(frames: list[str]) -> str:
    joined = ";".join(frames)
    for role, marker in ROLES:
        if marker in joined:
            return role
    return "other"


def summarize(path: Path, top: int = 14) -> dict[str, Any]:
    """Samples per role; per role, the top functions inclusive and by self time."""
    roles: Counter[str] = Counter()
    functions: dict[str, Counter[str]] = {}
    leaves: dict[str, Counter[str]] = {}
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        stack = _PROCESS.sub("", stack)
        if stack.startswith("process "):  # a process py-spy caught without a Python stack
            idle += count
            continue
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames or frames[-1].startswith(_IDLE_LEAVES):
            idle += count
            continue
        role = _role(frames)
        roles[role] += count
        total += count
        leaves.setdefault(role, Counter())[_LINE.sub(")", frames[-1])] += count
        seen: set[str] = set()
        bucket = functions.setdefault(role, Counter())
        for frame in frames:
            name = _LINE.sub(")", frame)
            if name in seen or any(b in name for b in _BORING):
                continue
            seen.add(name)
            bucket[name] += count
    return {
        "samples": total,
        "idle_samples": idle,
        "roles": dict(roles.most_common()),
        "top": {
            role: [(name, n) for name, n in functions.get(role, Counter()).most_common(top)]
            for role in roles
        },
        "self": {role: leaves.get(role, Counter()).most_common(top) for role in roles},
    }
