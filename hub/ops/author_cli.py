"""``hub scaffold`` and ``hub validate``: the integration author's commands."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def add_author_parsers(commands: Any) -> None:
    """Add ``scaffold`` and ``validate`` to the ``hub`` command's sub-commands."""
    scaffold = commands.add_parser(
        "scaffold", help="write a new integration folder that loads and passes its own test"
    )
    scaffold.add_argument("domain", metavar="DOMAIN", help="the new integration's domain")
    scaffold.add_argument(
        "--flow",
        choices=("simple", "multi"),
        default="simple",
        help="one form (SimpleConfigFlow, the default) or two steps (ConfigFlow)",
    )
    scaffold.add_argument("--entities", action="store_true", help="add a pulled entity type")
    scaffold.add_argument("--webhook", action="store_true", help="take pushed webhook deliveries")
    scaffold.add_argument(
        "--dir",
        metavar="DIR",
        help="where DOMAIN/ is made (default: the first external integrations dir, else ./integrations)",
    )
    scaffold.add_argument(
        "--config", metavar="DIR", help="config directory whose external dirs are the default"
    )

    validate = commands.add_parser(
        "validate", help="check integration folders as the hub would load them; exit 1 on a problem"
    )
    validate.add_argument(
        "dirs",
        metavar="DIR",
        nargs="*",
        help="a folder of integrations, or one integration (default: the bundled integrations)",
    )


def run_author_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run ``scaffold`` or ``validate``; the return value is the exit code."""
    # Loading integrations logs what the hub would; the lines printed here say it better. Only
    # for this command: run in-process (a test, a script), the caller's logging stays as it was.
    quiet = logging.getLogger("hub")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        if args.command == "scaffold":
            return _scaffold(args, env)
        return _validate(args)
    finally:
        quiet.setLevel(level)


def _scaffold(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hub.ops.scaffold import ScaffoldOptions, scaffold

    directory = Path(args.dir) if args.dir else _default_dir(args.config, env)
    options = ScaffoldOptions(args.domain, args.flow, args.entities, args.webhook)
    folder = scaffold(options, directory)
    print(f"Created {folder}")
    print(f"Test it: python -m pytest {folder / 'tests'}")
    print(f"Check it: hub validate {folder}")
    return 0


def _default_dir(config: str | None, env: Mapping[str, str]) -> Path:
    from hub.config import CONFIG_FILE, load_config, resolve_config_dir

    config_dir = resolve_config_dir(config, env)
    if (config_dir / CONFIG_FILE).exists():
        external = load_config(config_dir, env).integrations.external_dirs
        if external:
            return external[0]
    return Path("integrations")


def _validate(args: argparse.Namespace) -> int:
    from hub.config import IntegrationsConfig
    from hub.ops.validate import validate

    dirs = [Path(directory) for directory in args.dirs] or [IntegrationsConfig().bundled_dir]
    report = validate(dirs)
    for problem in report.problems:
        print(problem)
    count = len(report.folders)
    if report.problems:
        print(f"{len(report.problems)} problem(s) in {count} integration folder(s)")
        return 1
    print(f"{count} integration folder(s) checked: no problems")
    return 0
