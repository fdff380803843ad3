"""Run a graph of jobs on worker processes, with progress a person can watch.

A job starts once every job it depends on has finished; among the ready jobs the one heading the
longest expected chain goes first (for independent jobs: the longest first). A job that fails
cancels the jobs that depend on it, and only those. Each finished job prints one line; a status
line shows the elapsed time, done/total and an estimate of the time left (`Estimate`). A `record`
callback gets the plan and every event as a dict (`estimate.replay` reads them back).

Workers are fresh interpreters (`spawn`): no state leaks from the parent, and a worker gets its own
torch thread pool (`threads` threads).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import queue
import signal
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from ex2.estimate import Estimate, priorities


@dataclass(frozen=True)
class Job:
    key: str  # unique: a run folder or a measurement file
    name: str  # for people
    kind: str  # groups jobs in the summary and in the estimates
    payload: object  # what the worker function gets (picklable)
    expected: float  # seconds, from a table of per-task costs
    deps: tuple[str, ...] = ()  # keys of jobs that must finish first


@dataclass
class Outcome:
    job: Job
    status: str  # "done", "failed" or "cancelled"
    seconds: float = 0.0
    detail: str = ""  # done: the key metric; failed: the error; cancelled: the failed job
    traceback: str = ""


# --------------------------------------------------------------------------- the worker side

PR_SET_PDEATHSIG = 1  # prctl(2)
_progress: multiprocessing.Queue | None = None
_current_key = ""


def _init_worker(progress, threads: int) -> None:
    import torch

    global _progress
    _progress = progress
    _die_with_parent()
    torch.set_num_threads(threads)


def _die_with_parent() -> None:
    """Linux: end this worker when the scheduler ends (killed, say), not after its current job."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere a worker finishes its job first, then finds the pool gone


def _call(execute: Callable, key: str, payload) -> tuple[float, str]:
    global _current_key
    _current_key = key
    report_progress(0.0)  # the job starts now (a new worker first spends seconds on its imports)
    start = time.perf_counter()
    detail = execute(payload)
    return time.perf_counter() - start, detail


def report_progress(fraction: float) -> None:
    """Called inside a job: the share of it done so far (sharpens the estimate of time left)."""
    if _progress is not None:
        _progress.put((_current_key, fraction, time.time()))


# --------------------------------------------------------------------------- the display


def clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Display:
    """Job lines, and a status line: redrawn in place on a terminal (every `refresh` s), printed
    as a line of its own every `heartbeat` s otherwise (logs, CI)."""

    def __init__(self, out, live: bool, heartbeat: float):
        self.out, self.live = out, live
        self.every = 1.0 if live else heartbeat
        self.last = time.monotonic()
        self.shown = False

    def line(self, text: str) -> None:
        self.out.write(("\r\x1b[K" if self.shown else "") + text + "\n")
        self.out.flush()
        self.shown = False

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def status(self, text: str) -> None:
        self.last = time.monotonic()
        if self.live:
            self.out.write("\r\x1b[K" + text)
            self.out.flush()
            self.shown = True
        else:
            self.line(text)

    def close(self) -> None:
        if self.shown:
            self.line("")


# --------------------------------------------------------------------------- the scheduler


class Scheduler:
    def __init__(self, jobs, execute, workers, threads, display, record=None):
        self.jobs = {j.key: j for j in jobs}
        self.execute, self.workers, self.display = execute, workers, display
        self.threads = threads
        self.pending = dict(self.jobs)
        self.running: dict = {}  # future -> (job, start time, pool)
        self.outcomes: dict[str, Outcome] = {}
        self.rank = priorities(self.jobs.values(), lambda j: j.expected)
        self.estimate = Estimate(self.jobs.values(), workers)
        self.start = time.time()
        self.record = record or (lambda event: None)
        plan = [dict(key=j.key, kind=j.kind, expected=j.expected, deps=j.deps) for j in jobs]
        self.record(dict(event="plan", workers=workers, threads=threads, jobs=plan))

    def note(self, event: str, when: float | None = None, **fields) -> None:
        self.record(dict(event=event, t=round((when or time.time()) - self.start, 3), **fields))

    def new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        self.progress = context.Queue()
        return ProcessPoolExecutor(
            self.workers, context, _init_worker, (self.progress, self.threads)
        )

    def run(self) -> list[Outcome]:
        self.pool = self.new_pool()
        try:
            self.status()
            while self.pending or self.running:
                self.submit_ready()
                finished, _ = wait(list(self.running), timeout=0.5, return_when=FIRST_COMPLETED)
                self.read_progress()
                for future in finished:
                    self.collect(future)
                if self.display.due():
                    self.status()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.display.close()
            self.note("end")
        return [self.outcomes[k] for k in self.jobs]

    def submit_ready(self) -> None:
        if not self.running and self.pending and not self.ready():
            raise ValueError(f"a dependency cycle among {sorted(self.pending)}")
        for job in self.ready()[: self.workers - len(self.running)]:
            del self.pending[job.key]
            future = self.pool.submit(_call, self.execute, job.key, job.payload)
            self.running[future] = (job, time.time(), self.pool)
            self.note("submit", key=job.key)

    def ready(self) -> list[Job]:
        """Pending jobs whose dependencies are done (or outside the plan: done before it)."""

        def done(key: str) -> bool:
            return key not in self.jobs or getattr(self.outcomes.get(key), "status", "") == "done"

        ready = [j for j in self.pending.values() if all(done(d) for d in j.deps)]
        return sorted(ready, key=lambda j: -self.rank[j.key])

    def read_progress(self) -> None:
        while True:
            try:
                key, fraction, when = self.progress.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            future = next((f for f, (j, _, _) in self.running.items() if j.key == key), None)
            if future is None:
                continue
            job, started, pool = self.running[future]
            if fraction == 0:  # its worker has begun it: its time counts from here
                self.running[future] = (job, when, pool)
                self.note("start", when, key=key)
            else:
                self.estimate.progress(job, fraction, when - started)
                self.note("progress", when, key=key, fraction=fraction)

    def collect(self, future) -> None:
        job, started, pool = self.running.pop(future)
        try:
            seconds, detail = future.result()
        except BrokenProcessPool:
            # a worker died (killed, out of memory): the pool's running jobs are lost; the rest go
            # on in a new pool
            self.fail(job, time.time() - started, "a worker process died (out of memory?)", "")
            if pool is self.pool:
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self.new_pool()
            return
        except Exception as err:
            # the worker's own traceback travels as the cause; the parent's side adds nothing
            text = str(err.__cause__ or "".join(traceback.format_exception(err))).strip()
            message = (
                f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err) else ''}"
            )
            self.fail(job, time.time() - started, message, text)
            return
        self.outcomes[job.key] = Outcome(job, "done", seconds, detail)
        self.estimate.finished(job, seconds)
        self.note("done", key=job.key, seconds=round(seconds, 3))
        done = sum(o.status == "done" for o in self.outcomes.values())
        self.display.line(
            f"[{done}/{len(self.jobs)}] {job.name}: {clock(seconds)}"
            + (f", {detail}" if detail else "")
        )

    def fail(self, job: Job, seconds: float, message: str, text: str) -> None:
        self.outcomes[job.key] = Outcome(job, "failed", seconds, message, text)
        self.estimate.failed(job)
        self.note("failed", key=job.key)
        cancelled = self.cancel_dependents(job)
        note = f"; cancelled {len(cancelled)} jobs that need it" if cancelled else ""
        self.display.line(f"FAILED {job.name} after {clock(seconds)}: {message}{note}")

    def cancel_dependents(self, failed: Job) -> list[Job]:
        cancelled, frontier = [], {failed.key}
        while frontier:
            hit = [j for j in self.pending.values() if frontier & set(j.deps)]
            for job in hit:
                del self.pending[job.key]
                self.outcomes[job.key] = Outcome(job, "cancelled", detail=failed.name)
                self.note("cancelled", key=job.key)
                cancelled.append(job)
            frontier = {j.key for j in hit}
        return cancelled

    def status(self) -> None:
        """The status line, shown and recorded with its estimate of the time left."""
        now = time.time()
        done = sum(o.status == "done" for o in self.outcomes.values())
        running = {j.key: now - s for j, s, _ in self.running.values()}
        left = self.estimate.time_left(self.pending.values(), running, self.rank)
        self.note("status", now, left=round(left, 1))
        bar = "#" * (20 * done // len(self.jobs))
        self.display.status(
            f"[{bar:<20}] {clock(now - self.start)} elapsed, {done}/{len(self.jobs)} done, "
            f"{len(running)} running, about {clock(left)} left"
        )


def run_jobs(
    jobs: list[Job],
    execute: Callable[[object], str],
    workers: int,
    threads: int = 1,
    out=None,
    quiet: bool = False,
    heartbeat: float | None = None,
    record: Callable[[dict], None] | None = None,
) -> list[Outcome]:
    """Run `execute(job.payload)` for every job on `workers` processes; one Outcome per job.

    `execute` must be an importable function. The status line
    is redrawn in place on a terminal; elsewhere it is printed every `heartbeat` seconds (10, or
    30 when `quiet`: CI logs show life without noise). `record` gets the plan and each event.
    """
    out = out or sys.stdout
    live = not quiet and out.isatty()
    display = Display(out, live, heartbeat or (30.0 if quiet else 10.0))
    return Scheduler(jobs, execute, workers, threads, display, record).run()
