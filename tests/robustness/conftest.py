"""Shared by the robustness suite: hypothesis profiles, a hub to fuzz over loopback, and junk inputs.

Hypothesis profiles (the issue: "CI runs a bounded number of them, the full length on demand"):

- ``ci`` (the default): a bounded number of examples per test, so the fuzz suite adds well under a
  minute on a 2-core box. ``derandomize=True``: CI explores the same examples on every run, so a red
  build points at a change in the code and never at the luck of a seed; new ground is covered by
  the ``full`` profile. No example database, so nothing is written anywhere.
- ``full`` (``HUB_SLOW_TESTS=1``, the suite's convention for long rounds): thousands of random
  examples per test, with the example database under the system temp dir, so a failure found once
  is replayed first on the next run on that machine.

Either way a failure prints the ``@reproduce_failure`` blob, and ``--hypothesis-profile`` still wins.
Hypothesis keeps its files (the database and a cached Unicode table) in a ``.hypothesis/`` folder
of the working directory, that is the repository; this conftest moves that folder to the temp dir
before hypothesis first touches it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from pytest_aiohttp import AiohttpClient

from hub.app import create_app
from hub.config import HttpConfig, HubConfig
from hub.core import errors
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.bundled.conftest import BundledHub

SLOW = os.environ.get("HUB_SLOW_TESTS") == "1"

HYPOTHESIS_HOME = Path(tempfile.gettempdir()) / "hub-hypothesis"
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(HYPOTHESIS_HOME))
set_hypothesis_home_dir(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"])

# One hub serves every example of a test (starting one per example would cost the whole budget),
# so function-scoped fixtures are shared by design; each example compares state before and after.
_SUPPRESSED = (HealthCheck.function_scoped_fixture, HealthCheck.too_slow)
settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "full",
    max_examples=3000,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
# Hypothesis starts on "default", or on its own "ci" when $CI is set (replaced above); a profile
# given with --hypothesis-profile is left alone.
if settings.get_current_profile_name() in ("default", "ci"):
    settings.load_profile("full" if SLOW else "ci")


LARGE_REPR = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)
"""A failing example with a huge body is reported as such, not replaced by a warning about its size."""


def examples(share: float) -> settings:
    """A share of the profile's examples, for a test whose examples cost more (or less) than most."""
    return settings(max_examples=max(10, round(settings().max_examples * share)))


# What a client may send


def _repeat(unit: str, count: int) -> str:
    return unit * count


def _nest(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
"""Anything ``json.loads`` of strict JSON returns at the leaves."""

json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=16,
)
"""Any strict JSON value (what a well-behaved JSON encoder can send)."""

huge_texts = st.builds(
    _repeat, st.sampled_from(["x", "é", "😀", "\x00", "<\u202e"]), st.integers(1_000, 300_000)
)
"""Strings from long to past every body limit, cheap to draw."""

odd_json_texts = st.one_of(
    st.builds(_nest, st.integers(1, 40_000), st.sampled_from(["list", "object"])),
    st.builds(lambda digits: "1" * digits, st.integers(4_000, 6_000)),
    st.sampled_from(
        [
            "NaN", "Infinity", "-Infinity", '{"a": NaN}', "1e999", "-0", "[1,]", "{'a': 1}",
            '{"a": 1} trailing', '"\\ud800"', '"\\u0000"', "\ufeff{}", "", " ", "null", "[]",
            '{"__proto__": {}}', '{"a": 1, "a": 2}',
        ]
    ),
)  # fmt: skip
"""JSON texts a lenient or hostile client sends: NaN, deep nesting, huge numbers, near-misses."""

raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    odd_json_texts.map(str.encode),
    huge_texts.map(str.encode),
)
"""Bodies that are not the JSON object a route expects, as bytes."""

content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=zzz",
        "application/octet-stream",
        "",
        "\u00e9/\u00e9",
    ]
)


# Checking what the hub answered

KNOWN_CODES = frozenset(
    value for name, value in vars(errors).items() if name.isupper() and isinstance(value, str)
)
"""The stable codes of hub/core/errors.py."""


def typed_codes() -> frozenset[str]:
    """Every code a ``HubError`` subclass declares (errors.py and the services' own, e.g. actions)."""
    found: set[str] = set(KNOWN_CODES)
    pending: list[type[errors.HubError]] = [errors.HubError]
    while pending:
        cls = pending.pop()
        found.add(cls.code)
        pending.extend(cls.__subclasses__())
    return frozenset(found - {errors.INTERNAL_ERROR})


def assert_envelope(body: Any) -> str:
    """``body`` is the one error envelope with a typed code (never ``internal_error``); the code."""
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict), body
    assert isinstance(error.get("code"), str), body
    assert isinstance(error.get("message"), str), body
    assert error["code"], body
    assert error["message"], body
    assert error["code"] != errors.INTERNAL_ERROR, body
    assert "correlation_id" not in error, body
    return str(error["code"])


def tracebacks(records: Iterable[logging.LogRecord]) -> list[str]:
    """Log records of an unexpected exception: ERROR or worse, with a traceback attached."""
    return [
        f"{record.name}: {record.getMessage()}"
        for record in records
        if record.levelno >= logging.ERROR and record.exc_info
    ]


class LogWatch:
    """Records logged since the last ``check``; ``check`` fails on any with a traceback."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog
        self._seen = len(caplog.records)

    def check(self) -> None:
        """Fail on a traceback logged since the last check (so each example is judged alone)."""
        records: Sequence[logging.LogRecord] = self._caplog.records
        fresh, self._seen = records[self._seen :], len(records)
        assert not tracebacks(fresh), tracebacks(fresh)


# A hub to fuzz


def _not_json(constant: str) -> Any:
    raise AssertionError(f"the hub answered {constant}, which JSON.parse in a browser rejects")


def strict_json(text: str | bytes) -> Any:
    """``text`` decoded as the web UI decodes it: no ``NaN`` or ``Infinity``."""
    return json.loads(text, parse_constant=_not_json)


class FuzzHub(BundledHub):
    """A bundled hub with the entries the fuzz tests aim at, raw requests, strict JSON answers."""

    async def raw(
        self, path: str, data: bytes, content_type: str, method: str = "POST"
    ) -> tuple[int, Any]:
        """Send ``data`` as it is; the status and the decoded JSON answer (every answer is JSON)."""
        headers = {"Content-Type": content_type} if content_type else {}
        # A file-like body, because aiohttp warns that a megabyte of bytes might hold up the loop.
        body = io.BytesIO(data)
        async with self.client.request(method, path, data=body, headers=headers) as resp:
            return resp.status, strict_json(await resp.read())

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        """GET; the status and the strictly decoded answer."""
        async with self.client.get(path, **kw) as resp:
            return resp.status, strict_json(await resp.read())

    async def entry_views(self) -> list[dict[str, Any]]:
        """``GET /api/config-entries``."""
        status, answer = await self.get("/api/config-entries")
        assert status == 200, answer
        entries = answer["entries"] if isinstance(answer, dict) else answer
        return list(entries)

    async def entity(self, entity_id: int) -> dict[str, Any]:
        """``GET /api/entities/{id}``."""
        status, answer = await self.get(f"/api/entities/{entity_id}")
        assert status == 200, answer
        return dict(answer)

    async def remove_entry(self, entry_id: str) -> None:
        """``DELETE /api/config-entries/{id}``."""
        resp = await self.client.delete(f"/api/config-entries/{entry_id}")
        assert resp.status == 200, await resp.text()


@pytest.fixture
async def fuzz_hub(
    no_lingering_tasks: None, tmp_path: Path, aiohttp_client: AiohttpClient
) -> FuzzHub:
    """A started hub with the bundled integrations, signed in; webhooks not rate limited."""
    config = HubConfig(http=HttpConfig(webhook_rate_per_second=1e6, webhook_burst=1_000_000))
    app = create_app(tmp_path / "config", config, env={})
    client = await aiohttp_client(app)
    await sign_in(client, OWNER, OWNER_PASSWORD)
    return FuzzHub(client)


@pytest.fixture
async def helpers(fuzz_hub: FuzzHub) -> dict[str, int]:
    """One helper of each kind; their entity ids by kind."""
    ids = {}
    for kind, extra in (
        ("toggle", {}),
        ("number", {"min": -5, "max": 30, "step": 0.5}),
        ("button", {}),
    ):
        entry_id = await fuzz_hub.create_entry("helpers", {"name": kind, "kind": kind, **extra})
        ids[kind] = (await fuzz_hub.only_entity(entry_id))["id"]
    return ids


@pytest.fixture
def log_watch(caplog: pytest.LogCaptureFixture) -> LogWatch:
    """Watches the log for tracebacks, one example at a time."""
    return LogWatch(caplog)
