"""Periodic jobs on the event loop: APScheduler 3 decides when, one owned wrapper runs each job."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from hub.core.redact import SECRETS

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_STOP_TIMEOUT: Final = 5.0
_ERROR_MAX_CHARS: Final = 200

JobFunc = Callable[[], Awaitable[None]]
"""A job: a coroutine function without arguments (bind an entry id with a closure or a partial)."""


class JobOutcome(enum.StrEnum):
    """How one run of a job ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class JobStats:
    """A snapshot of a job's record since it was added; durations are in seconds."""

    runs: int
    failures: int
    timeouts: int
    skipped: int
    last_started: datetime | None
    last_duration: float | None
    last_error: str | None
    missed: int = 0
    """Due times folded into a later run because the loop (or the job) was late: a cron job's
    backlog is run once, not once per missed time."""
    last_scheduled: datetime | None = None
    """The due time of the newest scheduled run (a late run's own time, not when it started)."""


@dataclass(frozen=True, slots=True)
class _JobSpec:
    func: JobFunc
    seconds: float
    jitter: float | None
    timeout: float
    run_immediately: bool
    cron: str | None = None
    timezone: str = "UTC"


@dataclass(slots=True, eq=False)
class _Job:
    spec: _JobSpec
    # Serializes runs of this job, so a manual run waits for a scheduled one and never overlaps it.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: set[asyncio.Task[JobOutcome]] = field(default_factory=set)
    runs: int = 0
    failures: int = 0
    timeouts: int = 0
    skipped: int = 0
    last_started: datetime | None = None
    last_duration: float | None = None
    last_error: str | None = None
    missed: int = 0
    last_scheduled: datetime | None = None


class Scheduler:
    """Interval jobs keyed by name; each run is bounded by a timeout and never overlaps itself."""

    def __init__(
        self,
        *,
        default_timeout: float = DEFAULT_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        _check_positive("default_timeout", default_timeout)
        self.default_timeout = default_timeout
        self.stop_timeout = stop_timeout
        self._jobs: dict[str, _Job] = {}
        self._tasks: set[asyncio.Task[JobOutcome]] = set()
        self._aps: Any = None  # apscheduler's AsyncIOScheduler, imported only by start()

    @property
    def running(self) -> bool:
        """Whether the scheduler has been started and not stopped."""
        return self._aps is not None

    def start(self) -> None:
        """Start scheduling every job added so far and every job added later; needs a running loop."""
        loop = asyncio.get_running_loop()
        if self._aps is not None:
            raise RuntimeError("the scheduler is already running")
        # Imported here: apscheduler costs tens of milliseconds to import, which a Pi's start-up feels.
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        aps = AsyncIOScheduler(
            event_loop=loop, timezone=UTC, executors={"default": _handoff_executor()}
        )
        for name, job in self._jobs.items():
            _schedule(aps, name, job.spec, self._due)
        aps.start()
        self._aps = aps
        _LOGGER.debug("Scheduler started with %d job(s)", len(self._jobs))

    async def stop(self) -> None:
        """Stop scheduling, cancel runs in flight and wait for them (bounded); jobs are kept."""
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=False)
            # AsyncIOScheduler defers its shutdown to the next turn of the loop; let it happen now so
            # its timer is gone before this returns.
            await asyncio.sleep(0)
        await self._cancel_and_wait(self._tasks)

    def add_interval_job(
        self,
        name: str,
        func: JobFunc,
        *,
        seconds: float,
        jitter: float | None = None,
        timeout: float | None = None,
        run_immediately: bool = False,
    ) -> None:
        """Run ``func`` every ``seconds`` (plus up to ``jitter``), replacing any job of that name.

        ``name`` is what the logs show, so make it name the entry (``"sync:<entry_id>"``), never a
        secret. A run in flight of a replaced job finishes; the new definition applies from the next.
        """
        if not name:
            raise ValueError("a job needs a name")
        _check_positive("seconds", seconds)
        if jitter is not None and jitter < 0:
            raise ValueError(f"jitter must not be negative, got {jitter}")
        if timeout is not None:
            _check_positive("timeout", timeout)
        spec = _JobSpec(
            func=func,
            seconds=seconds,
            jitter=jitter,
            timeout=self.default_timeout if timeout is None else timeout,
            run_immediately=run_immediately,
        )
        job = self._jobs.get(name)
        if job is None:
            self._jobs[name] = _Job(spec)
        else:
            job.spec = spec
        if self._aps is not None:
            _schedule(self._aps, name, spec, self._due)

    def add_cron_job(
        self,
        name: str,
        func: JobFunc,
        *,
        cron: str,
        timezone: str = "UTC",
        timeout: float | None = None,
    ) -> None:
        """Run ``func`` at the times of a five-field ``cron`` line in ``timezone``, replacing any job
        of that name. Times missed while the loop was busy are coalesced into one run and counted in
        ``stats(name).missed``. A bad line raises ``ValueError`` (check it with ``cron_trigger``)."""
        if not name:
            raise ValueError("a job needs a name")
        if timeout is not None:
            _check_positive("timeout", timeout)
        cron_trigger(cron, timezone)
        spec = _JobSpec(
            func=func,
            seconds=0.0,
            jitter=None,
            timeout=self.default_timeout if timeout is None else timeout,
            run_immediately=False,
            cron=cron,
            timezone=timezone,
        )
        job = self._jobs.get(name)
        if job is None:
            self._jobs[name] = _Job(spec)
        else:
            job.spec = spec
        if self._aps is not None:
            _schedule(self._aps, name, spec, self._due)

    def remove_job(self, name: str) -> bool:
        """Stop scheduling ``name`` and cancel its run in flight; return whether there was such a job.

        A run that removes its own job (a sync that finds its entry must be reauthenticated) is
        left to finish what it is doing rather than cancelled from inside.
        """
        job = self._jobs.pop(name, None)
        if job is None:
            return False
        if self._aps is not None and self._aps.get_job(name) is not None:
            self._aps.remove_job(name)
        current = asyncio.current_task()
        for task in job.tasks:
            if task is not current:
                task.cancel()
        return True

    def has_job(self, name: str) -> bool:
        """Whether a job of that name exists."""
        return name in self._jobs

    def job_names(self) -> list[str]:
        """The names of every job, in the order they were added."""
        return list(self._jobs)

    def next_run(self, name: str) -> datetime | None:
        """When APScheduler will next run ``name``; ``None`` while stopped or for an unknown job."""
        if self._aps is None:
            return None
        job = self._aps.get_job(name)
        moment = None if job is None else job.next_run_time
        return moment if isinstance(moment, datetime) else None

    def stats(self, name: str) -> JobStats:
        """Return the record of job ``name``; raises ``KeyError`` if there is no such job."""
        job = self._jobs[name]
        return JobStats(
            runs=job.runs,
            failures=job.failures,
            timeouts=job.timeouts,
            skipped=job.skipped,
            last_started=job.last_started,
            last_duration=job.last_duration,
            last_error=job.last_error,
            missed=job.missed,
            last_scheduled=job.last_scheduled,
        )

    async def run_job_now(self, name: str) -> JobOutcome:
        """Run job ``name`` at once, after any run in flight, and return how it ended.

        Raises ``KeyError`` if there is no such job. If the caller is cancelled, the run goes on.
        """
        task = self._spawn(name, self._jobs[name])
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and (current is None or not current.cancelling()):
                return JobOutcome.CANCELLED  # the run was cancelled, not the caller
            raise

    def _due(self, name: str, run_times: list[datetime] | None = None) -> None:
        """Start a scheduled run, unless the job is still running; called by APScheduler with the
        due times this run stands for (more than one when late ones were coalesced)."""
        job = self._jobs.get(name)
        if job is None or self._aps is None:
            return  # removed or stopped while APScheduler's wake-up was already queued
        if run_times:
            job.missed += len(run_times) - 1
            job.last_scheduled = run_times[-1]
        if job.tasks:
            job.skipped += 1
            _LOGGER.info("Job %s is still running; skipping this run", name)
            return
        self._spawn(name, job)

    def _spawn(self, name: str, job: _Job) -> asyncio.Task[JobOutcome]:
        task = asyncio.get_running_loop().create_task(self._run(name, job), name=f"job {name}")
        for tasks in (self._tasks, job.tasks):
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return task

    async def _run(self, name: str, job: _Job) -> JobOutcome:
        """The one wrapper every run goes through: timeout, logging, stats."""
        async with job.lock:
            spec = job.spec  # read under the lock: a job replaced meanwhile runs its new definition
            job.last_started = datetime.now(UTC)
            start = time.perf_counter()
            deadline = asyncio.timeout(spec.timeout)
            try:
                async with deadline:
                    await spec.func()
            except asyncio.CancelledError as err:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    duration = _finish(job, start, "cancelled")
                    _LOGGER.info("Job %s cancelled after %.1f ms", name, duration * 1000)
                    raise
                # Nobody cancelled this run: the job let a CancelledError of its own escape.
                duration = _fail(job, start, err)
                _LOGGER.exception("Job %s failed after %.1f ms", name, duration * 1000)
                return JobOutcome.FAILED
            except Exception as err:
                if isinstance(err, TimeoutError) and deadline.expired():
                    _finish(job, start, f"timed out after {spec.timeout:g} s")
                    job.timeouts += 1
                    _LOGGER.warning("Job %s timed out after %g s", name, spec.timeout)
                    return JobOutcome.TIMED_OUT
                duration = _fail(job, start, err)
                _LOGGER.exception("Job %s failed after %.1f ms", name, duration * 1000)
                return JobOutcome.FAILED
            duration = _finish(job, start, None)
            _LOGGER.debug("Job %s finished in %.1f ms", name, duration * 1000)
            return JobOutcome.SUCCEEDED

    async def _cancel_and_wait(self, tasks: set[asyncio.Task[JobOutcome]]) -> None:
        if not tasks:
            return
        pending = set(tasks)
        for task in pending:
            task.cancel()
        _, stuck = await asyncio.wait(pending, timeout=self.stop_timeout)
        if stuck:
            _LOGGER.error(
                "Job(s) still running %g s after being cancelled: %s",
                self.stop_timeout,
                ", ".join(sorted(task.get_name() for task in stuck)),
            )


def cron_trigger(cron: str, timezone: str = "UTC") -> Any:
    """APScheduler's trigger for a five-field cron line; ``ValueError`` says what is wrong with it."""
    from apscheduler.triggers.cron import CronTrigger

    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"a cron line has five fields, this one has {len(fields)}")
    try:
        return CronTrigger.from_crontab(cron, timezone=timezone)
    except (ValueError, LookupError) as err:  # an unknown zone is a LookupError subclass
        raise ValueError(str(err) or type(err).__name__) from None


def _schedule(aps: Any, name: str, spec: _JobSpec, due: Callable[..., None]) -> None:
    if spec.cron is not None:
        aps.add_job(
            due,
            cron_trigger(spec.cron, spec.timezone),
            args=(name,),
            id=name,
            name=name,
            replace_existing=True,
            max_instances=1,
            # Every due time reaches ``_due``, which runs once for all of them and counts the rest.
            coalesce=False,
            misfire_grace_time=None,
        )
        return
    options: dict[str, Any] = {}
    if spec.run_immediately:
        options["next_run_time"] = datetime.now(UTC)
    aps.add_job(
        due,
        "interval",
        args=(name,),  # only the name: a job's stored arguments never carry a secret
        id=name,
        name=name,
        seconds=spec.seconds,
        jitter=spec.jitter,
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        # A late sync is still worth running, and coalescing already folds a backlog into one run.
        misfire_grace_time=None,
        **options,
    )


def _handoff_executor() -> Any:
    """Return an APScheduler executor that hands each due run to ``Scheduler._due`` synchronously.

    APScheduler's own AsyncIOExecutor wraps a coroutine in a task it owns, logs our cancellations as
    job errors, and cancels without awaiting on shutdown. Handing off at once keeps every run task
    owned by the ``Scheduler``, which enforces one run at a time per job itself.
    """
    from apscheduler.executors.base import BaseExecutor

    class HandoffExecutor(BaseExecutor):  # type: ignore[misc]  # apscheduler ships no type hints
        def submit_job(self, job: Any, run_times: list[datetime]) -> None:
            job.func(*job.args, run_times, **job.kwargs)

        def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
            self.submit_job(job, run_times)

    return HandoffExecutor()


def _finish(job: _Job, start: float, error: str | None) -> float:
    """Record a finished run and return its duration in seconds."""
    duration = time.perf_counter() - start
    job.runs += 1
    job.last_duration = duration
    job.last_error = error
    return duration


def _fail(job: _Job, start: float, err: BaseException) -> float:
    """Record a failed run and return its duration in seconds."""
    job.failures += 1
    # last_error is shown to a person: short, and with every known secret masked.
    return _finish(job, start, SECRETS.redact(f"{type(err).__name__}: {err}")[:_ERROR_MAX_CHARS])


def _check_positive(what: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{what} must be positive, got {value}")
