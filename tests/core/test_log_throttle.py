"""A burst of one log line becomes one line per interval that says how many it stands for."""

from __future__ import annotations

import logging

import pytest

from hub.core.log_throttle import LogThrottle


def test_a_burst_is_one_line_then_one_per_interval_with_the_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttle = LogThrottle(logging.getLogger("test.burst"), 60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.burst"):
        logged = [throttle.log("out of %s", "files") for _ in range(1000)]
        now[0] = 61.0
        throttle.log("out of %s", "files")
    assert logged.count(True) == 1
    assert caplog.messages == [
        "out of files",
        "out of files (999 more like it since the last such line)",
    ]
