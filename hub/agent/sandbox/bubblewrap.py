"""The built-in compute provider: one program at a time in a bubblewrap sandbox on this machine.

Every limit ends in a result the agent can read (``killed: "memory"``...), never a hang: the
wall clock kills bubblewrap's process group, and ``--die-with-parent`` takes the sandbox's pid
namespace, so every process in it, down with it. Output is read up to the limit, then the program
is stopped. Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hub.agent.sandbox.jail import NOBODY, SYSTEM_DIRS, HostLayout, Limits, argv
from hub.config import SandboxConfig
from hub.integrations.sandbox import Limit, SandboxProgram, SandboxResult

_LOGGER = logging.getLogger(__name__)

PROVIDER_ID: Final = "bubblewrap"
_CHUNK: Final = 65536
_REAP_SECONDS: Final = 5.0
"""After a kill, how long the pipes may take to close (the kernel tears the namespace down)."""
_RETRY_PROBE_SECONDS: Final = 60.0
_SIGXCPU_EXIT: Final = 128 + signal.SIGXCPU
_MEMORY_SIGNS: Final = ("MemoryError", "Cannot allocate memory", "out of memory", "xmalloc")
_FORK_SIGNS: Final = ("Cannot fork", "fork: retry", "fork: Resource", "Resource temporarily")


@dataclass(slots=True)
class _Output:
    """One stream as read so far; ``over`` once it passed the limit."""

    data: bytearray
    over: bool = False


class BubblewrapProvider:
    """Runs a program in ``bwrap`` with no network, a read-only system and limits."""

    id: Final = PROVIDER_ID

    def __init__(self, settings: SandboxConfig, *, bwrap: str = "bwrap") -> None:
        self._settings = settings
        self._bwrap_name = bwrap
        self._layout: HostLayout | None = None
        self._bwrap: str | None = None
        self._checked_at: float | None = None
        self.unavailable_reason: str | None = None
        self._slots = asyncio.Semaphore(settings.max_concurrent)

    def limits(self, program: SandboxProgram) -> Limits:
        """The settings' limits, the wall clock shortened when the program asks for less."""
        s = self._settings
        return Limits(
            wall_seconds=min(program.timeout_seconds, s.timeout_seconds),
            cpu_seconds=s.cpu_seconds,
            memory_bytes=s.memory_mib << 20,
            max_processes=s.max_processes,
            output_bytes=s.output_kib << 10,
            scratch_bytes=s.scratch_mib << 20,
        )

    async def available(self) -> bool:
        """Whether ``bwrap`` and ``prlimit`` are here and a sandbox starts (checked once)."""
        if self._layout is not None:
            return True
        now = time.monotonic()
        if self._checked_at is not None and now - self._checked_at < _RETRY_PROBE_SECONDS:
            return False
        self._checked_at = now
        reason = await self._probe()
        if reason is not None:
            if reason != self.unavailable_reason:
                _LOGGER.warning("The built-in sandbox is unavailable: %s", reason)
            self.unavailable_reason = reason
            self._layout = None
        return reason is None

    async def run(self, program: SandboxProgram) -> SandboxResult:
        """Run ``program``; a limit it hits is told in ``killed``."""
        if not await self.available():
            raise RuntimeError(f"the built-in sandbox is unavailable: {self.unavailable_reason}")
        async with self._slots:
            return await self._run(program)

    async def _probe(self) -> str | None:
        found = await asyncio.to_thread(_host_layout, self._bwrap_name)
        if isinstance(found, str):
            return found
        self._bwrap, self._layout = found
        result = await self._run(SandboxProgram(command="exit 0", timeout_seconds=10))
        if result.exit_code != 0:
            self._layout = None
            first = (result.stderr.strip().splitlines() or ["no reason given"])[0]
            return f"a test sandbox did not start ({first[:200]})"
        return None

    async def _run(self, program: SandboxProgram) -> SandboxResult:
        assert self._layout is not None
        assert self._bwrap is not None
        limits = self.limits(program)
        read_end: int | None = None
        write_end: int | None = None
        if program.script is not None:
            read_end, write_end = os.pipe()
        started = time.monotonic()
        try:
            args = argv(self._bwrap, self._layout, limits, program, program_fd=read_end)
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=(read_end,) if read_end is not None else (),
                **_unprivileged(),
            )
        except BaseException:
            _close(write_end)
            raise
        finally:
            _close(read_end)
        feeders = [asyncio.create_task(_feed_stdin(process, program.stdin.encode()))]
        if write_end is not None and program.script is not None:
            script = program.script.encode()
            feeders.append(asyncio.create_task(asyncio.to_thread(_write_all, write_end, script)))
        return await self._collect(process, limits, feeders, started)

    async def _collect(
        self,
        process: asyncio.subprocess.Process,
        limits: Limits,
        feeders: list[asyncio.Task[None]],
        started: float,
    ) -> SandboxResult:
        out, err = _Output(bytearray()), _Output(bytearray())
        overflow = asyncio.Event()
        assert process.stdout is not None
        assert process.stderr is not None
        readers = [
            asyncio.create_task(_read(process.stdout, out, limits.output_bytes, overflow)),
            asyncio.create_task(_read(process.stderr, err, limits.output_bytes, overflow)),
        ]
        waiter = asyncio.create_task(process.wait())
        overflowed = asyncio.create_task(overflow.wait())
        killed: Limit | None = None
        try:
            done, _ = await asyncio.wait(
                {waiter, overflowed}, timeout=limits.wall_seconds, return_when="FIRST_COMPLETED"
            )
            if waiter not in done:
                killed = "output" if overflowed in done else "timeout"
                _kill(process)
            await asyncio.wait_for(asyncio.shield(waiter), _REAP_SECONDS)
            # The pipes close when the last process of the namespace is gone.
            await asyncio.wait(readers, timeout=_REAP_SECONDS)
        finally:
            if process.returncode is None:  # cancelled (the hub stops) or a reap that took too long
                _kill(process)
            for task in (*readers, *feeders, overflowed, waiter):
                task.cancel()
            await asyncio.gather(*readers, *feeders, overflowed, waiter, return_exceptions=True)
            _release(process)
        stderr = _text(err.data[: limits.output_bytes])
        if killed is None:
            killed = "output" if out.over or err.over else _cause(process.returncode, stderr)
        elif killed == "timeout" and any(sign in stderr for sign in _FORK_SIGNS):
            killed = "processes"
        return SandboxResult(
            exit_code=None if killed in ("timeout", "output", "cpu") else process.returncode,
            stdout=_text(out.data[: limits.output_bytes]),
            stderr=stderr,
            truncated=out.over or err.over,
            killed=killed,
            duration_seconds=round(time.monotonic() - started, 4),
            provider_id=PROVIDER_ID,
        )


def _host_layout(bwrap_name: str) -> tuple[str, HostLayout] | str:
    """Where bwrap and prlimit are and how the system dirs are laid out; a reason when not usable."""
    bwrap = shutil.which(bwrap_name)
    if bwrap is None:
        return "bwrap is not installed (Debian: apt-get install bubblewrap)"
    prlimit = shutil.which("prlimit", path="/usr/bin:/bin")
    if prlimit is None:
        return "prlimit is not installed (Debian: util-linux)"
    links: dict[str, str] = {}
    dirs: list[str] = []
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            links[name] = os.readlink(path)
        elif path.is_dir():
            dirs.append(name)
    return bwrap, HostLayout(links=links, dirs=tuple(dirs), prlimit=prlimit)


def _unprivileged() -> dict[str, Any]:
    # Root is exempt from RLIMIT_NPROC, and a user namespace created by root maps its uid onto
    # root's: run bwrap itself as nobody, so the process limit holds and the host sees nobody.
    if os.geteuid() == 0:
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    return {}


async def _feed_stdin(process: asyncio.subprocess.Process, data: bytes) -> None:
    stdin = process.stdin
    assert stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            stdin.write(data)
            await stdin.drain()
        stdin.close()
        await stdin.wait_closed()


def _write_all(fd: int, data: bytes) -> None:
    """The script into bwrap's data pipe (a thread: a long script may not fit the pipe's buffer)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass  # bwrap went away before reading it; the result says why
    finally:
        os.close(fd)


async def _read(
    stream: asyncio.StreamReader, into: _Output, limit: int, overflow: asyncio.Event
) -> None:
    # Read to the end even past the limit (and drop it): asyncio reports the process gone only
    # once its pipes are closed, and a pipe nobody reads would keep a killed writer's end open.
    while chunk := await stream.read(_CHUNK):
        if into.over:
            continue
        into.data += chunk[: limit + 1 - len(into.data)]
        if len(into.data) > limit:
            into.over = True
            overflow.set()


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _release(process: asyncio.subprocess.Process) -> None:
    """Close the pipes even if a killed sandbox's last process still holds their other ends.

    asyncio closes the transport itself only once every pipe reached its end; a reap that took
    longer than ``_REAP_SECONDS`` would otherwise leave it (and two file descriptors) to the
    garbage collector. ``Process`` has no public close, so this reaches for its transport.
    """
    transport = getattr(process, "_transport", None)
    if transport is not None:
        transport.close()


def _cause(returncode: int | None, stderr: str) -> Limit | None:
    if returncode == _SIGXCPU_EXIT:
        return "cpu"
    if returncode and any(sign in stderr for sign in _MEMORY_SIGNS):
        return "memory"
    if any(sign in stderr for sign in _FORK_SIGNS):
        return "processes"  # it ran into the limit, even if it went on and ended well
    return None


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", "replace")


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
