"""The bubblewrap command line for one program: pure, so what the sandbox allows is read in one place.

No network (a new network namespace with only a loopback), read-only system directories and no
others (``/usr`` and the merged-usr links; not ``/etc``, ``/home``, ``/root`` or the hub's config),
a size-bounded in-memory scratch directory as the only writable place, new pid, ipc and uts
namespaces, and an unprivileged uid. Limits are set inside by ``prlimit``, so that ``RLIMIT_NPROC``
counts the sandbox's own processes (a user namespace keeps its own count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from hub.integrations.sandbox import SandboxProgram

NOBODY: Final = 65534
WORK_DIR: Final = "/work"
TMP_DIR: Final = "/tmp"  # noqa: S108  # the sandbox's own: a link to its private scratch
PROGRAM_PATH: Final = "/sandbox/program"
SYSTEM_DIRS: Final = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
"""Beside ``/usr``: links into it on a merged-usr system, directories of their own elsewhere."""
ETC_FILES: Final = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime")
"""What programs need of ``/etc``; the rest (``passwd``, keys, the host's names) stays out."""

_INTERPRETERS: Final[Mapping[str, str]] = {"sh": "/bin/sh", "bash": "bash", "python": "python3"}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one program may use."""

    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    max_processes: int
    output_bytes: int
    scratch_bytes: int


@dataclass(frozen=True, slots=True)
class HostLayout:
    """Where the host keeps what the sandbox binds: each top-level system dir is a link or a dir."""

    links: Mapping[str, str]
    """``/bin`` → ``usr/bin`` and the like."""
    dirs: tuple[str, ...]
    prlimit: str


def argv(
    bwrap: str,
    layout: HostLayout,
    limits: Limits,
    program: SandboxProgram,
    *,
    program_fd: int | None,
) -> list[str]:
    """The whole command: bubblewrap, then ``prlimit`` inside it, then the program."""
    args = [
        bwrap,
        "--unshare-user",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name, target in sorted(layout.links.items()):
        args += ["--symlink", target, f"/{name}"]
    for name in layout.dirs:
        args += ["--ro-bind", f"/{name}", f"/{name}"]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(limits.scratch_bytes), "--tmpfs", WORK_DIR]
    args += ["--symlink", WORK_DIR, TMP_DIR]  # one bounded scratch for both
    args += ["--chdir", WORK_DIR, "--clearenv"]
    for key, value in _ENV.items():
        args += ["--setenv", key, value]
    if program_fd is not None:
        args += ["--ro-bind-data", str(program_fd), PROGRAM_PATH]
    # bwrap builds the root and /dev as unbounded tmpfs: read-only, so only the bounded scratch
    # fills (the device nodes bound into /dev keep working).
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
    args += ["--", layout.prlimit, *_rlimits(limits), "--", *command(program)]
    return args


def command(program: SandboxProgram) -> list[str]:
    """The interpreter and its arguments, the script read from ``PROGRAM_PATH``."""
    interpreter = _INTERPRETERS[program.language]
    if program.command is not None:
        return [interpreter, "-c", program.command]
    return [interpreter, PROGRAM_PATH]


def _rlimits(limits: Limits) -> Sequence[str]:
    # The soft CPU limit sends SIGXCPU (so the end can be told apart), the hard one a second later
    # SIGKILL. FSIZE bounds one file; the scratch tmpfs bounds them all.
    return (
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.max_processes}",
        f"--fsize={limits.scratch_bytes}",
        "--core=0",
        "--nofile=256",
    )


_ENV: Final[Mapping[str, str]] = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": WORK_DIR,
    "TMPDIR": WORK_DIR,
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}
