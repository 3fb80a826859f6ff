"""Tests for the scheduler that runs periodic jobs."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import pytest

from hub.core.redact import SECRETS
from hub.core.scheduler import JobOutcome, Scheduler

INTERVAL = 0.05


# Background work must be owned and stopped: a task left running fails the test.
pytestmark = pytest.mark.usefixtures("no_lingering_tasks")


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    """A started scheduler, stopped after the test."""
    sched = Scheduler(default_timeout=5)
    sched.start()
    yield sched
    await sched.stop()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; generous, so a busy machine does not make it flaky."""
    async with asyncio.timeout(5):
        # The conditions are plain state of other tasks, with no event to wait on.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


class Counter:
    """A job that counts its runs and the most runs it ever saw at once."""

    def __init__(self, duration: float = 0, error: Exception | None = None) -> None:
        self.duration = duration
        self.error = error
        self.runs = 0
        self.active = 0
        self.max_active = 0
        self.cancelled = 0

    async def __call__(self) -> None:
        self.runs += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self.duration)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.active -= 1
        if self.error is not None:
            raise self.error


def job_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    """The scheduler's log records at exactly ``level``."""
    return [r for r in caplog.records if r.name == "hub.core.scheduler" and r.levelno == level]


async def test_jobs_run_repeatedly(scheduler: Scheduler) -> None:
    job = Counter()
    scheduler.add_interval_job("sync:entry1", job, seconds=INTERVAL)

    await wait_until(lambda: job.runs >= 3)

    stats = scheduler.stats("sync:entry1")
    assert stats.runs >= 3
    assert stats.failures == stats.timeouts == 0
    assert stats.last_started is not None
    assert stats.last_duration is not None
    assert stats.last_duration >= 0
    assert stats.last_error is None
    assert scheduler.has_job("sync:entry1")
    assert scheduler.job_names() == ["sync:entry1"]


async def test_jobs_added_before_start_run_once_started() -> None:
    sched = Scheduler()
    job = Counter()
    sched.add_interval_job("early", job, seconds=3600, run_immediately=True)
    await asyncio.sleep(0.05)
    assert job.runs == 0

    sched.start()
    await wait_until(lambda: job.runs == 1)
    await sched.stop()


async def test_running_follows_start_and_stop() -> None:
    sched = Scheduler()
    states = [sched.running]
    sched.start()
    states.append(sched.running)
    await sched.stop()
    states.append(sched.running)

    assert states == [False, True, False]


async def test_a_stopped_scheduler_keeps_its_jobs_and_can_start_again() -> None:
    sched = Scheduler()
    job = Counter()
    sched.add_interval_job("sync", job, seconds=INTERVAL, run_immediately=True)
    sched.start()
    await wait_until(lambda: job.runs >= 1)
    await sched.stop()
    runs = job.runs
    await asyncio.sleep(INTERVAL * 4)
    assert job.runs == runs

    sched.start()
    await wait_until(lambda: job.runs > runs)
    await sched.stop()

    assert sched.stats("sync").runs == job.runs


async def test_a_job_over_its_timeout_is_cancelled_and_counted(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    job = Counter(duration=60)
    scheduler.add_interval_job(
        "sync:slow", job, seconds=3600, timeout=INTERVAL, run_immediately=True
    )

    await wait_until(lambda: scheduler.stats("sync:slow").timeouts == 1)

    assert job.cancelled == 1
    stats = scheduler.stats("sync:slow")
    assert stats.runs == 1
    assert stats.failures == 0
    assert stats.last_error == "timed out after 0.05 s"
    assert [r.getMessage() for r in job_records(caplog, logging.WARNING)] == [
        "Job sync:slow timed out after 0.05 s"
    ]


async def test_a_slow_job_never_overlaps_itself(scheduler: Scheduler) -> None:
    job = Counter(duration=0.2)
    scheduler.add_interval_job("slow", job, seconds=0.01, run_immediately=True)

    await wait_until(lambda: scheduler.stats("slow").runs >= 2)

    assert job.max_active == 1
    assert scheduler.stats("slow").skipped > 0


async def test_removal_stops_further_runs(scheduler: Scheduler) -> None:
    job = Counter()
    scheduler.add_interval_job("gone", job, seconds=INTERVAL, run_immediately=True)
    await wait_until(lambda: job.runs >= 1)

    assert scheduler.remove_job("gone") is True
    runs = job.runs
    await asyncio.sleep(INTERVAL * 4)

    assert job.runs == runs
    assert not scheduler.has_job("gone")
    assert scheduler.remove_job("gone") is False
    with pytest.raises(KeyError):
        scheduler.stats("gone")


async def test_removal_cancels_a_run_in_flight(scheduler: Scheduler) -> None:
    job = Counter(duration=60)
    scheduler.add_interval_job("stuck", job, seconds=3600, run_immediately=True)
    await wait_until(lambda: job.active == 1)

    scheduler.remove_job("stuck")

    await wait_until(lambda: job.cancelled == 1)


async def test_a_failing_job_keeps_being_scheduled_and_others_keep_running(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    failing = Counter(error=RuntimeError("boom"))
    healthy = Counter()
    scheduler.add_interval_job("failing", failing, seconds=INTERVAL, run_immediately=True)
    scheduler.add_interval_job("healthy", healthy, seconds=INTERVAL, run_immediately=True)

    await wait_until(lambda: failing.runs >= 3 and healthy.runs >= 3)

    stats = scheduler.stats("failing")
    assert stats.failures >= 3
    assert stats.last_error == "RuntimeError: boom"
    assert scheduler.stats("healthy").failures == 0
    errors = job_records(caplog, logging.ERROR)
    assert len(errors) >= 3
    assert all("Job failing failed after" in r.getMessage() for r in errors)
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in errors)


async def test_last_error_masks_secrets(scheduler: Scheduler) -> None:
    SECRETS.add("hunter2-token")
    job = Counter(error=RuntimeError("401 for token hunter2-token"))
    scheduler.add_interval_job("leaky", job, seconds=3600)

    assert await scheduler.run_job_now("leaky") is JobOutcome.FAILED

    assert scheduler.stats("leaky").last_error == "RuntimeError: 401 for token ***"


async def test_run_job_now_reports_each_outcome() -> None:
    sched = Scheduler(default_timeout=INTERVAL)
    sched.add_interval_job("ok", Counter(), seconds=3600)
    sched.add_interval_job("bad", Counter(error=ValueError("nope")), seconds=3600)
    sched.add_interval_job("slow", Counter(duration=60), seconds=3600)

    assert await sched.run_job_now("ok") is JobOutcome.SUCCEEDED
    assert await sched.run_job_now("bad") is JobOutcome.FAILED
    assert await sched.run_job_now("slow") is JobOutcome.TIMED_OUT
    assert sched.stats("ok").runs == 1
    with pytest.raises(KeyError):
        await sched.run_job_now("missing")
    await sched.stop()


async def test_a_job_raising_its_own_timeout_error_is_a_failure(scheduler: Scheduler) -> None:
    scheduler.add_interval_job("own", Counter(error=TimeoutError("upstream")), seconds=3600)

    assert await scheduler.run_job_now("own") is JobOutcome.FAILED

    stats = scheduler.stats("own")
    assert (stats.failures, stats.timeouts) == (1, 0)


async def test_run_job_now_waits_for_the_run_in_flight(scheduler: Scheduler) -> None:
    job = Counter(duration=0.2)
    scheduler.add_interval_job("sync", job, seconds=3600, run_immediately=True)
    await wait_until(lambda: job.active == 1)

    outcome = await scheduler.run_job_now("sync")

    assert outcome is JobOutcome.SUCCEEDED
    assert job.runs == 2
    assert job.max_active == 1


async def test_stop_cancels_runs_in_flight() -> None:
    sched = Scheduler()
    scheduled = Counter(duration=60)
    manual = Counter(duration=60)
    sched.add_interval_job("scheduled", scheduled, seconds=3600, run_immediately=True)
    sched.add_interval_job("manual", manual, seconds=3600)
    sched.start()
    manual_run = asyncio.create_task(sched.run_job_now("manual"))
    await wait_until(lambda: scheduled.active == 1 and manual.active == 1)

    await sched.stop()

    assert (scheduled.cancelled, manual.cancelled) == (1, 1)
    assert await manual_run is JobOutcome.CANCELLED
    assert sched.stats("scheduled").last_error == "cancelled"


async def test_a_cancelled_caller_does_not_cancel_the_run(scheduler: Scheduler) -> None:
    job = Counter(duration=0.1)
    scheduler.add_interval_job("sync", job, seconds=3600)
    caller = asyncio.create_task(scheduler.run_job_now("sync"))
    await wait_until(lambda: job.active == 1)

    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller

    await wait_until(lambda: scheduler.stats("sync").runs == 1)
    assert job.cancelled == 0


async def test_adding_a_job_again_replaces_it(scheduler: Scheduler) -> None:
    old = Counter()
    new = Counter()
    scheduler.add_interval_job("sync", old, seconds=3600)
    scheduler.add_interval_job("sync", new, seconds=INTERVAL, run_immediately=True)

    await wait_until(lambda: new.runs >= 2)

    assert old.runs == 0
    assert scheduler.job_names() == ["sync"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seconds": 0}, "seconds"),
        ({"seconds": 1, "timeout": 0}, "timeout"),
        ({"seconds": 1, "jitter": -1}, "jitter"),
    ],
)
async def test_bad_job_options_are_refused(options: dict[str, float], message: str) -> None:
    sched = Scheduler()
    with pytest.raises(ValueError, match=message):
        sched.add_interval_job("bad", Counter(), **options)  # type: ignore[arg-type]
    assert not sched.has_job("bad")


def test_start_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        Scheduler().start()


async def test_start_twice_is_refused(scheduler: Scheduler) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        scheduler.start()


def test_importing_the_scheduler_does_not_import_apscheduler() -> None:
    code = "import sys, hub.core.scheduler; sys.exit('apscheduler' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
