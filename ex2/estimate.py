"""How long a set of jobs will take, and how far off that was.

Each job comes with its expected seconds on this machine (`prepare` derives them from the job's
work and a calibration run at start-up). While the jobs run, the expectation of each kind of job is
rescaled by how long the jobs of that kind actually took, and the rest is laid out on the workers
the way the scheduler runs them. The evidence comes from finished jobs and from running ones that
report their progress (a run after each epoch): at 3 of 10 epochs after 30 s, a run expected to
take 50 s is taking 2x.

A scheduler's record (`schedule.run_jobs(record=...)`: the plan, then one event per job handed
to a worker, begun, progress report and end, and per status line) replays through `replay`, and
`errors` says how far each status line's estimate was from the time that was actually left.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

# Seconds of expected work behind the prior factor 1 (for a kind: the factor of all kinds), so that
# the first seconds of evidence do not swing the estimate wildly.
PRIOR_SECONDS = 30.0
# The estimate is judged from the second minute on (the first is calibration and first evidence),
# within 20 % of the time left, or one status interval near the end.
JUDGED_FROM = 60.0
TOLERANCE = 0.2
TOLERANCE_FLOOR = 10.0


def priorities(jobs, cost) -> dict[str, float]:
    """Each job's cost plus the longest chain of jobs that wait for it: starting the job with the
    highest value first keeps long chains from finishing last (for independent jobs: longest
    first)."""
    jobs = list(jobs)
    dependents = {j.key: [] for j in jobs}
    for job in jobs:
        for dep in job.deps:
            if dep in dependents:
                dependents[dep].append(job)
    level: dict[str, float] = {}

    def chain(job) -> float:
        if job.key not in level:
            level[job.key] = cost(job) + max((chain(d) for d in dependents[job.key]), default=0.0)
        return level[job.key]

    return {j.key: chain(j) for j in jobs}


class Estimate:
    def __init__(self, jobs, workers: int):
        self.jobs = {j.key: j for j in jobs}
        self.workers = workers
        self.actual: dict[str, float] = defaultdict(float)  # by kind, finished jobs
        self.expected: dict[str, float] = defaultdict(float)
        self.partial: dict[str, tuple[float, float]] = {}  # running: (elapsed, fraction done)

    def finished(self, job, seconds: float) -> None:
        self.partial.pop(job.key, None)
        self.actual[job.kind] += seconds
        self.expected[job.kind] += job.expected

    def failed(self, job) -> None:
        self.partial.pop(job.key, None)  # a failed job's pace says nothing about the others

    def progress(self, job, fraction: float, elapsed: float) -> None:
        if 0 < fraction <= 1:
            self.partial[job.key] = (elapsed, fraction)

    def factors(self) -> tuple[float, dict[str, float]]:
        """Actual over expected time: of all jobs so far, and of each kind (pulled towards the
        first while a kind has little evidence)."""
        actual, expected = defaultdict(float, self.actual), defaultdict(float, self.expected)
        for key, (elapsed, fraction) in self.partial.items():
            job = self.jobs[key]
            actual[job.kind] += elapsed
            expected[job.kind] += fraction * job.expected
        overall = (sum(actual.values()) + PRIOR_SECONDS) / (sum(expected.values()) + PRIOR_SECONDS)
        by_kind = {
            k: (actual[k] + overall * PRIOR_SECONDS) / (expected[k] + PRIOR_SECONDS) for k in actual
        }
        return overall, by_kind

    def time_left(self, pending, running: dict[str, float], rank: dict[str, float]) -> float:
        """Seconds until the last job finishes: `running` maps keys to their elapsed seconds."""
        overall, by_kind = self.factors()

        def cost(job) -> float:
            return job.expected * by_kind.get(job.kind, overall)

        remaining = {}
        for key, elapsed in running.items():
            total = cost(self.jobs[key])
            if key in self.partial:  # its own pace is the best guide
                seconds, fraction = self.partial[key]
                total = seconds / fraction
            remaining[key] = max(total - elapsed, 0.1 * total)
        return simulate(pending, remaining, cost, rank, self.workers)


def simulate(pending, remaining: dict[str, float], cost, rank, workers: int) -> float:
    """When the last job ends if the workers take the ready job of highest rank whenever they are
    free; `remaining` holds the jobs already running and the seconds they have left."""
    todo = sorted(pending, key=lambda j: -rank[j.key])
    waiting = {j.key for j in todo}
    finish = dict(remaining)
    free = list(remaining.values()) + [0.0] * max(0, workers - len(remaining))
    heapq.heapify(free)
    while todo:
        now = heapq.heappop(free)
        ready = [
            j for j in todo if all(d not in waiting and finish.get(d, 0.0) <= now for d in j.deps)
        ]
        if not ready:  # idle until the next job ends
            later = [t for t in finish.values() if t > now]
            if not later:
                break
            heapq.heappush(free, min(later))
            continue
        job = ready[0]
        todo.remove(job)
        waiting.discard(job.key)
        finish[job.key] = now + cost(job)
        heapq.heappush(free, finish[job.key])
    return max(finish.values(), default=0.0)


# --------------------------------------------------------------------------- recorded runs


class RecordedJob:
    """A job as a record describes it: enough for the estimate (key, kind, expected, deps)."""

    def __init__(self, key: str, kind: str, expected: float, deps=()):
        self.key, self.kind, self.expected, self.deps = key, kind, expected, tuple(deps)


def replay(events: list[dict]) -> list[tuple[float, float]]:
    """(elapsed, estimated seconds left) at each status line of a recorded run, estimated again by
    this module's `Estimate` from the events before it."""
    plan = next(e for e in events if e["event"] == "plan")
    jobs = [RecordedJob(j["key"], j["kind"], j["expected"], j["deps"]) for j in plan["jobs"]]
    by_key = {j.key: j for j in jobs}
    estimate = Estimate(jobs, plan["workers"])
    rank = priorities(jobs, lambda j: j.expected)
    pending, started, out = dict(by_key), {}, []
    for e in events:
        kind, t = e["event"], e.get("t", 0.0)
        if kind == "submit" or (kind == "start" and e["key"] in started):
            started[e["key"]] = t  # handed to a worker; then begun by it
            pending.pop(e["key"], None)
        elif kind == "progress" and e["key"] in started:
            estimate.progress(by_key[e["key"]], e["fraction"], t - started[e["key"]])
        elif kind == "done":  # (a short job's start may come after its end, or not at all)
            estimate.finished(by_key[e["key"]], e["seconds"])
            started.pop(e["key"], None)
            pending.pop(e["key"], None)
        elif kind in ("failed", "cancelled"):
            estimate.failed(by_key[e["key"]])
            started.pop(e["key"], None)
            pending.pop(e["key"], None)
        elif kind == "status":
            running = {k: t - s for k, s in started.items()}
            out.append((t, estimate.time_left(pending.values(), running, rank)))
    return out


def errors(estimates: list[tuple[float, float]], end: float) -> dict:
    """How far (elapsed, seconds left) estimates were from the time actually left at `end`:
    the worst relative error from `JUDGED_FROM` on (while more than the floor's worth of time is
    left: 3 s against 2 s left is no news), whether every one of them was within tolerance, and
    the largest change between consecutive status lines (the estimate of the time left at the
    earlier line, against the later one plus the time between them)."""
    judged = [(t, left, end - t) for t, left in estimates if t >= JUDGED_FROM and end > t]
    relative = [
        left / actual - 1 for _, left, actual in judged if actual > TOLERANCE_FLOOR / TOLERANCE
    ]
    within = all(
        abs(left - actual) <= max(TOLERANCE * actual, TOLERANCE_FLOOR) for _, left, actual in judged
    )
    jumps = [
        max(a, b) / min(a, b)
        for (t0, a), (t1, later) in zip(estimates, estimates[1:])
        for b in [later + (t1 - t0)]
        if min(a, b) > 0
    ]
    return {
        "first": estimates[0][1] / end - 1 if estimates and end > 0 else None,
        "worst": max(relative, key=abs, default=None),
        "within_tolerance": within,
        "largest_jump": max(jumps, default=1.0),
    }
