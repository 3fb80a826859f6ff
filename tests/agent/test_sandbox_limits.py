"""The built-in bubblewrap sandbox, for real: each limit enforced, no network, no writes outside
its scratch, nothing left running, and the hub's event loop free while a program runs."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from hub.agent.sandbox.bubblewrap import BubblewrapProvider
from hub.config import SandboxConfig
from hub.integrations.sandbox import SandboxProgram, SandboxResult

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (Debian: apt-get install bubblewrap)",
)


def provider(**settings: Any) -> BubblewrapProvider:
    return BubblewrapProvider(SandboxConfig(provider="bubblewrap", **settings))


async def run(sandbox: BubblewrapProvider, **program: Any) -> SandboxResult:
    if not await sandbox.available():
        pytest.skip(f"bubblewrap cannot start a sandbox here: {sandbox.unavailable_reason}")
    return await sandbox.run(SandboxProgram(**program))


def sandboxed_processes(marker: str) -> list[int]:
    """Host pids whose command line carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                cmdline = (entry / "cmdline").read_bytes()
                status = (entry / "status").read_text()
            except OSError:
                continue
            if marker.encode() in cmdline and "State:\tZ" not in status:
                found.append(int(entry.name))
    return found


async def none_left(marker: str) -> None:
    """Wait (bounded) until no process of the sandbox is alive on the host."""
    async with asyncio.timeout(10):
        while sandboxed_processes(marker):  # noqa: ASYNC110  # /proc has no event to wait on
            await asyncio.sleep(0.05)


async def test_a_command_and_a_script_run_with_stdin_and_their_exit_code() -> None:
    sandbox = provider()
    echoed = await run(sandbox, command="echo hello; echo oops >&2; exit 3")
    assert (echoed.exit_code, echoed.stdout, echoed.stderr) == (3, "hello\n", "oops\n")
    assert echoed.killed is None
    assert not echoed.truncated
    script = "import sys\nprint(sys.stdin.read().upper())\n# " + "€" * 25_000  # > a pipe's buffer
    reversed_ = await run(sandbox, script=script, language="python", stdin="from stdin")
    assert (reversed_.exit_code, reversed_.stdout) == (0, "FROM STDIN\n")
    assert reversed_.provider_id == "bubblewrap"


async def test_the_network_is_unreachable_even_the_hosts_loopback(
    aiohttp_server: AiohttpServer,
) -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="reached")

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app, host="127.0.0.1")
    code = (
        "import socket\n"
        "for host, port in (('127.0.0.1', PORT), ('1.1.1.1', 53)):\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2).close()\n"
        "        print('connected', host)\n"
        "    except OSError as err:\n"
        "        print('refused', host, err.errno)\n"
    ).replace("PORT", str(server.port))
    result = await run(provider(), script=code, language="python")
    assert result.exit_code == 0, result
    assert "connected" not in result.stdout
    assert result.stdout.count("refused") == 2
    assert hits == []


async def test_only_the_scratch_is_writable_and_it_is_gone_after_the_run(tmp_path: Path) -> None:
    secret = tmp_path / "hub-secret.txt"
    secret.write_text("the hub's own file")
    sandbox = provider()
    result = await run(
        sandbox,
        command=(
            f"cat {secret} || echo no-host-file; "
            "for p in /usr/evil /etc/evil /evil /sandbox/evil /dev/evil /dev/shm/evil; do "
            "(echo x > $p) 2>/dev/null && echo wrote $p || echo refused $p; done; "
            "echo kept > mine && cat mine && echo tmp > /tmp/t && cat $TMPDIR/t; "
            "ls /root /home 2>&1 | head -2"
        ),
    )
    assert "the hub's own file" not in result.stdout
    assert "no-host-file" in result.stdout
    assert "wrote" not in result.stdout
    assert result.stdout.count("refused") == 6
    assert "kept\ntmp\n" in result.stdout
    for path in ("/usr/evil", "/etc/evil", "/evil"):
        assert not await asyncio.to_thread(Path(path).exists)
    again = await run(sandbox, command="cat mine 2>&1 || echo fresh")
    assert again.stdout.endswith("fresh\n")


async def test_the_hubs_environment_files_and_processes_stay_outside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_MASTER_KEY", "not-for-the-sandbox-0123")
    result = await run(
        provider(),
        command="env; echo fds: $(ls /proc/self/fd | wc -l); echo pids: $(ls -d /proc/[0-9]* | wc -l)",
    )
    assert "not-for-the-sandbox" not in result.stdout
    assert "HUB_MASTER_KEY" not in result.stdout
    assert "fds: 4\n" in result.stdout  # stdin, stdout, stderr and ls's own
    pids = int(result.stdout.split("pids:")[1].split()[0])
    assert pids <= 5  # the sandbox's own few, none of the host's


async def test_cpu_time_is_limited() -> None:
    result = await run(provider(cpu_seconds=1), command="while :; do :; done", timeout_seconds=30)
    assert result.killed == "cpu"
    assert result.exit_code is None
    assert result.duration_seconds < 30


async def test_the_wall_clock_kills_every_process_of_the_sandbox() -> None:
    marker = "4242"
    result = await run(
        provider(), command=f"sleep {marker} & sleep {marker} & sleep {marker}", timeout_seconds=1
    )
    assert result.killed == "timeout"
    assert result.exit_code is None
    await none_left(f"sleep\x00{marker}")


async def test_memory_is_limited() -> None:
    result = await run(
        provider(memory_mib=128),
        command="blocks = []\nwhile True: blocks.append(bytearray(16 << 20))",
        language="python",
    )
    assert result.killed == "memory"
    assert "MemoryError" in result.stderr


async def test_output_is_read_up_to_the_limit_and_the_program_stopped() -> None:
    result = await run(provider(output_kib=4), command="yes output-7731", timeout_seconds=30)
    assert result.killed == "output"
    assert result.truncated
    assert len(result.stdout) == 4096
    assert result.stdout.startswith("output-7731\noutput-7731\n")
    await none_left("yes\x00output-7731")


async def test_a_fork_bomb_is_contained_and_the_host_goes_on() -> None:
    sandbox = provider(max_processes=8)
    bomb = (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        print('fork refused', flush=True)\n"
        "        time.sleep(0.01)\n"
    )
    result = await run(sandbox, script=bomb, language="python", timeout_seconds=2)
    assert result.killed in ("timeout", "output")
    assert "fork refused" in result.stdout
    await none_left("/sandbox/program")
    assert (await run(sandbox, command="echo still here")).stdout == "still here\n"
    shell_bomb = await run(sandbox, command=":(){ :|:& };:", language="bash", timeout_seconds=2)
    # bash's bomb leaves its first shell at once; the namespace's end takes every fork with it.
    assert shell_bomb.killed in (None, "processes", "timeout")
    await none_left(":(){ :|:& };:")


async def test_a_disk_filler_stops_at_the_scratch_size() -> None:
    result = await run(
        provider(scratch_mib=2), command="head -c 10000000 /dev/zero > big; wc -c < big"
    )
    assert result.exit_code == 0, result
    assert int(result.stdout.split()[-1]) <= 2 << 20


async def test_the_event_loop_stays_free_while_a_program_runs() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        result = await run(provider(), command="sleep 1", timeout_seconds=5)
    finally:
        ticker.cancel()
    assert result.exit_code == 0
    assert ticks >= 5


async def test_without_bubblewrap_the_provider_says_why() -> None:
    sandbox = BubblewrapProvider(SandboxConfig(), bwrap="no-such-bwrap")
    assert not await sandbox.available()
    assert sandbox.unavailable_reason is not None
    assert "apt-get install bubblewrap" in sandbox.unavailable_reason
    with pytest.raises(RuntimeError, match="unavailable"):
        await sandbox.run(SandboxProgram(command="true"))


async def test_a_cancelled_run_leaves_nothing_running() -> None:
    marker = "sleep\x004343"
    task = asyncio.create_task(run(provider(), command="sleep 4343", timeout_seconds=60))
    async with asyncio.timeout(10):
        while not sandboxed_processes(marker):  # noqa: ASYNC110  # /proc has no event to wait on
            await asyncio.sleep(0.02)
    task.cancel()  # as when the hub stops in the middle of an agent run
    with pytest.raises(asyncio.CancelledError):
        await task
    await none_left(marker)
