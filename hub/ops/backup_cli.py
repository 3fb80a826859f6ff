"""``hub backup create|verify|restore``: the command-line side of backups (imports stay lazy)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

CONFIG_HELP = "config directory (default: $HUB_CONFIG, else ./config)"
KEY_HELP = "open the backup with this recovery key instead of a passphrase"


def add_backup_parser(commands: Any) -> None:
    """Add ``backup`` and its actions to the ``hub`` command's subparsers."""
    backup = commands.add_parser("backup", help="make, check and restore encrypted backups")
    actions = backup.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="back up a config directory (works while it runs)")
    create.add_argument("--config", metavar="DIR", help=CONFIG_HELP)
    create.add_argument(
        "--include-history", action="store_true", help="include state history and the event log"
    )
    create.add_argument("--output", metavar="FILE", help="where to write the archive")
    verify = actions.add_parser("verify", help="check that a backup decrypts and is whole")
    verify.add_argument("file", metavar="FILE")
    verify.add_argument("--recovery-key", metavar="KEY", help=KEY_HELP)
    restore = actions.add_parser(
        "restore", help="restore a backup into a new or empty directory, or a stopped hub's"
    )
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--config", metavar="DIR", help=CONFIG_HELP)
    restore.add_argument("--recovery-key", metavar="KEY", help=KEY_HELP)


def run_backup(
    args: argparse.Namespace, env: Mapping[str, str], schema_version: Callable[[], int]
) -> int:
    """Run one ``hub backup`` action; a ``HubError`` is printed by the caller (exit 1).
    ``schema_version`` is this hub's database schema version (from where the app is wired)."""
    if args.backup_command == "create":
        return _create(args, env)
    if args.backup_command == "verify":
        return _verify(args, env, schema_version())
    return _restore(args, env, schema_version())


def _create(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from datetime import UTC, datetime

    from hub.config import load_config, resolve_config_dir
    from hub.ops.backup import (
        BackupKeys,
        backup_name,
        build_backup,
        read_state_files,
    )
    from hub.ops.backup_names import PASSPHRASE_ENV
    from hub.ops.recovery_key import (
        new_recovery_key,
        read_recovery_public,
        write_recovery_public,
    )

    config_dir = resolve_config_dir(args.config, env)
    config = load_config(config_dir, env)
    files = read_state_files(config_dir, env)  # first: refuses a directory that holds no hub
    passphrase = env.get(PASSPHRASE_ENV) or None
    recovery = read_recovery_public(config_dir)
    if passphrase is None and recovery is None:
        text, recovery = new_recovery_key()
        write_recovery_public(config_dir, recovery)
        print("This hub had no recovery key, so one was made. Keep it safe, apart from the")
        print("backups: it is shown only now, and without it (or a passphrase) no backup opens.")
        print(f"recovery key: {text}", flush=True)
    include_history = bool(args.include_history)
    if args.output:
        output = Path(args.output).expanduser().resolve()
    else:
        name = backup_name(datetime.now(UTC), include_history=include_history)
        output = config.backups.resolved_directory(config_dir) / name
    created = build_backup(
        config_dir,
        files,
        output,
        keys=BackupKeys(passphrase=passphrase, recovery=recovery),
        include_history=include_history,
    )
    history = "with history" if include_history else "without history"
    print(f"Backup written: {created.path} ({_size(created.size)}, {history})")
    return 0


def _secret(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    from hub.core.errors import BadRequestError
    from hub.ops.backup_format import Secret
    from hub.ops.backup_names import PASSPHRASE_ENV

    if args.recovery_key:
        return Secret(recovery_key=args.recovery_key)
    if env.get(PASSPHRASE_ENV):
        return Secret(passphrase=env[PASSPHRASE_ENV])
    if sys.stdin.isatty():
        return Secret(passphrase=getpass.getpass("Backup passphrase: "))
    raise BadRequestError(
        f"Give the backup's recovery key with --recovery-key, or its passphrase in {PASSPHRASE_ENV}."
    )


def _verify(args: argparse.Namespace, env: Mapping[str, str], schema: int) -> int:
    from hub.ops.backup_restore import verify_file

    path = Path(args.file).expanduser().resolve()
    verified = verify_file(path, _secret(args, env), schema_version=schema)
    header = verified.header
    history = "with history" if header.include_history else "without history"
    print(
        f"Backup OK: {path} (made {header.created_at} by hub {header.hub_version}, {history}, "
        f"{len(verified.members)} files checked)"
    )
    return 0


def _restore(args: argparse.Namespace, env: Mapping[str, str], schema: int) -> int:
    from hub.config import resolve_config_dir
    from hub.ops.backup_restore import restore

    path = Path(args.file).expanduser().resolve()
    target = resolve_config_dir(args.config, env)
    done = restore(path, target, _secret(args, env), schema_version=schema)
    print(f"Restored the backup of {done.created_at} into {done.target}")
    if done.aside is not None:
        print(f"The directory it replaced is kept in {done.aside}")
    return 0


def _size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
