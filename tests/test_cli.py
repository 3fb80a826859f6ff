"""The ``hub`` command as a person runs it: real processes, real files, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from hub import __version__

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB")}
    env.update(extra)
    return env


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=60,
    )


def get_health(port: int) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@dataclass
class RunningHub:
    proc: subprocess.Popen[str]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory`` with its size and mtime, to prove nothing changed."""
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


class StartHub(Protocol):
    def __call__(
        self, config_dir: Path, *, env: dict[str, str] | None = None, wait: bool = True
    ) -> RunningHub: ...


@pytest.fixture
def start(tmp_path: Path) -> Iterator[StartHub]:
    procs: list[subprocess.Popen[str]] = []

    def _start(
        config_dir: Path, *, env: dict[str, str] | None = None, wait: bool = True
    ) -> RunningHub:
        port = free_port()
        log = tmp_path / f"hub-{len(procs)}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hub",
                    "run",
                    "--config",
                    str(config_dir),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=env or clean_env(),
            )
        procs.append(proc)
        running = RunningHub(proc, port, log)
        if wait:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert proc.poll() is None, f"hub exited early:\n{running.output()}"
                try:
                    if get_health(port)[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"hub never became healthy:\n{running.output()}"
                time.sleep(0.02)
        return running

    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_first_start_creates_the_config_dir_and_serves_health(
    start: StartHub, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    running = start(config_dir)
    status, body = get_health(running.port)
    assert status == 200
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert isinstance(body["uptime_seconds"], float)

    assert (config_dir / "configuration.yaml").read_text().startswith("# The hub's configuration")
    assert stat.S_IMODE((config_dir / ".storage").stat().st_mode) == 0o700
    assert stat.S_IMODE((config_dir / ".storage" / "master.key").stat().st_mode) == 0o600
    assert (config_dir / ".storage" / "core.keyring").exists()
    assert (config_dir / "hub.db").exists()
    output = running.output()
    assert f"open http://127.0.0.1:{running.port}/" in output
    assert "Start-up phase" in output
    assert "ready in" in output

    assert running.stop() == 0
    assert not (config_dir / "hub.db-wal").exists(), "the database was closed cleanly"
    assert "Stopped" in running.output()
    assert "Traceback" not in running.output()


def test_a_second_start_reuses_the_state_and_sigint_stops_too(
    start: StartHub, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    start(config_dir).stop()
    key = (config_dir / ".storage" / "master.key").read_bytes()
    keyring = (config_dir / ".storage" / "core.keyring").read_bytes()
    running = start(config_dir)
    assert (config_dir / ".storage" / "master.key").read_bytes() == key
    assert (config_dir / ".storage" / "core.keyring").read_bytes() == keyring
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(timeout=30) == 0


def test_two_hubs_cannot_share_a_config_dir(start: StartHub, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    running = start(config_dir)
    second = start(config_dir, wait=False)
    assert second.proc.wait(timeout=30) == 1
    assert "in use by another hub process" in second.output()
    assert get_health(running.port)[0] == 200
    assert running.stop() == 0


def test_a_bad_configuration_stops_start_up_with_one_line_and_changes_nothing(
    start: StartHub, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text("http:\n  port: 8400\n  prot: 1\n")
    before = snapshot(config_dir)
    running = start(config_dir, wait=False)
    assert running.proc.wait(timeout=30) == 1
    output = running.output().strip()
    assert output == (
        f"hub: error: {config_dir / 'configuration.yaml'}, line 3: http.prot: unknown key "
        "(did you mean 'port'?)"
    )
    assert snapshot(config_dir) == before


def test_a_wrong_master_key_stops_start_up_and_changes_nothing(
    start: StartHub, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    start(config_dir).stop()
    before = snapshot(config_dir)
    wrong = clean_env(HUB_MASTER_KEY="A" * 43)
    running = start(config_dir, env=wrong, wait=False)
    assert running.proc.wait(timeout=30) == 1
    lines = [line for line in running.output().splitlines() if line.startswith("hub: error:")]
    assert len(lines) == 1, running.output()
    assert "master key" in lines[0]
    assert "Traceback" not in running.output()
    after = snapshot(config_dir)
    after.pop(".storage/hub.lock", None)
    before.pop(".storage/hub.lock", None)
    assert after == before


def test_a_taken_port_is_a_clear_error(start: StartHub, tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = hub(
            "run", "--config", str(tmp_path / "config"), "--host", "127.0.0.1", "--port", str(port)
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: another program already listens there" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_check_config_reports_and_exits_1_or_summarizes_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("history:\n  retention_days: -1\n")
    bad = hub("check-config", "--config", str(tmp_path))
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        f"hub: error: {tmp_path / 'configuration.yaml'}, line 2: history.retention_days: "
        "Input should be greater than or equal to 1"
    )
    (tmp_path / "configuration.yaml").write_text("http:\n  port: 8400\n")
    good = hub("check-config", "--config", str(tmp_path), env=clean_env(HUB__LANGUAGE="de"))
    assert good.returncode == 0, good.stderr
    assert "Configuration OK" in good.stdout
    assert ":8400" in good.stdout
    assert "language: de" in good.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["configuration.yaml"]


def test_config_dir_defaults_to_hub_config_env(start: StartHub, tmp_path: Path) -> None:
    config_dir = tmp_path / "from-env"
    result = hub("check-config", env=clean_env(HUB_CONFIG=str(config_dir)))
    assert result.returncode == 0
    assert f"No configuration.yaml in {config_dir}" in result.stdout


def test_version_and_help() -> None:
    assert hub("--version").stdout.strip() == f"hub {__version__}"
    assert hub().returncode == 2


def test_rotate_key_keeps_the_hub_starting_and_refuses_while_it_runs(
    start: StartHub, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    running = start(config_dir)
    busy = hub("secrets", "rotate-key", "--config", str(config_dir))
    assert busy.returncode == 1
    assert "in use by another hub process" in busy.stderr
    assert running.stop() == 0

    old_key = (config_dir / ".storage" / "master.key").read_bytes()
    rotated = hub("secrets", "rotate-key", "--config", str(config_dir))
    assert rotated.returncode == 0, rotated.stderr
    assert "Back up the new master.key" in rotated.stdout
    new_key = (config_dir / ".storage" / "master.key").read_bytes()
    assert new_key != old_key
    assert stat.S_IMODE((config_dir / ".storage" / "master.key").stat().st_mode) == 0o600
    assert start(config_dir).stop() == 0

    old_env = clean_env(HUB_MASTER_KEY=old_key.decode().strip())
    refused = start(config_dir, env=old_env, wait=False)
    assert refused.proc.wait(timeout=30) == 1
    assert "is not the one the stored secrets were encrypted with" in refused.output()


def test_integrations_lists_each_with_status_and_why_one_was_skipped(tmp_path: Path) -> None:
    bundled = tmp_path / "bundled"
    (bundled / "broken").mkdir(parents=True)
    (bundled / "broken" / "manifest.yaml").write_text("domain: broken\nname: Broken\ntier: 3\n")
    env = clean_env(HUB__INTEGRATIONS__BUNDLED_DIR=str(bundled))
    result = hub("integrations", "--config", str(tmp_path / "config"), env=env)
    assert result.returncode == 0, result.stderr
    assert "Skipped:" in result.stdout
    assert "broken: manifest_invalid:" in result.stdout
    assert "line 3: tier: unknown key" in result.stdout

    default = hub("integrations", "--config", str(tmp_path / "config"))
    assert default.returncode == 0, default.stderr
    header, *rows = default.stdout.splitlines()
    assert header.split()[:3] == ["DOMAIN", "STATUS", "VERSION"]
    text_tools = next(row for row in rows if row.startswith("text_tools"))
    assert text_tools.split()[1:3] == ["loaded", "1.0.0"]
    assert not (tmp_path / "config" / ".storage").exists(), "listing writes nothing"
