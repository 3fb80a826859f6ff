"""Logging: levels from the configuration, and secrets masked in every part of a record."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from hub.core.logs import setup_logging
from hub.core.redact import SECRETS, SecretRegistry


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = setup_logging("info", {"hub.noisy": "error", "hub.chatty": "debug"}, stream=stream)
    yield stream
    root.removeHandler(handler)
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name in ("hub.noisy", "hub.chatty", "aiohttp.access", "apscheduler"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_levels_come_from_the_configuration(log_stream: io.StringIO) -> None:
    logging.getLogger("hub.test").debug("hidden debug")
    logging.getLogger("hub.test").info("shown info")
    logging.getLogger("hub.noisy").warning("hidden warning")
    logging.getLogger("hub.chatty").debug("shown debug")
    logging.getLogger("aiohttp.access").info("GET / 200")
    out = log_stream.getvalue()
    assert "shown info" in out
    assert "shown debug" in out
    assert "hidden" not in out
    assert "GET /" not in out


def test_registered_secrets_never_reach_the_log(log_stream: io.StringIO) -> None:
    SECRETS.add("hunter2-api-key")
    log = logging.getLogger("hub.test")
    log.info("token is %s", "hunter2-api-key")
    log.info("inline hunter2-api-key too")
    try:
        raise ValueError("server said: bad key hunter2-api-key")
    except ValueError:
        log.exception("request failed")
    log.info("stack", stack_info=True, extra={"x": 1})
    out = log_stream.getvalue()
    assert "hunter2-api-key" not in out
    assert out.count("***") >= 3
    assert "Traceback" in out, "the traceback itself is kept, only the secret is masked"


def test_setting_up_twice_does_not_double_lines(log_stream: io.StringIO) -> None:
    handler = setup_logging("info", {}, stream=log_stream)
    try:
        logging.getLogger("hub.test").info("once")
        assert log_stream.getvalue().count("once") == 1
    finally:
        logging.getLogger().removeHandler(handler)


def test_registry_masks_longest_first_and_counts_references() -> None:
    registry = SecretRegistry()
    registry.add("abcdef")
    registry.add("abc")
    registry.add("abc")
    registry.add("xy")  # too short to mask without garbling every line
    assert registry.redact("abcdef abc xy") == "*** *** xy"
    registry.discard("abc")
    assert registry.redact("abc") == "***", "still registered once"
    registry.discard("abc")
    registry.discard("never-added")
    assert registry.redact("abc abcdef") == "abc ***"
