"""The ``hub`` command: ``run``, ``check-config``, ``secrets rotate-key`` and ``backup``."""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # before the heavy imports, so the start-up timeline counts them

import os  # noqa: E402

# pydantic scans every installed package's entry points for plugins at import; the hub uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import errno  # noqa: E402
import gc  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from collections.abc import Mapping, Sequence  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from hub import __version__  # noqa: E402
from hub.core.errors import PORT_UNAVAILABLE, ConfigError, HubError  # noqa: E402
from hub.core.lock import ConfigDirLock  # noqa: E402
from hub.core.timeline import Timeline  # noqa: E402

# hub.config (pydantic, yaml) is imported by the commands that need it, so `hub run` can switch
# the garbage collector off before the bulk of start-up's objects are made.
if TYPE_CHECKING:
    import ssl

    from aiohttp import web

    from hub.config import HubConfig

_LOGGER = logging.getLogger("hub")


class PortUnavailableError(HubError):
    """The HTTP port cannot be bound."""

    code = PORT_UNAVAILABLE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the return value is the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    env = dict(os.environ)
    try:
        if args.command == "run":
            return _run(args, env)
        if args.command == "check-config":
            return _check_config(args, env)
        if args.command == "secrets":
            return _rotate_key(args, env)
        if args.command == "integrations":
            return _integrations(args, env)
        if args.command == "backup":
            from hub.ops.backup_cli import run_backup

            return run_backup(args, env, _schema_version)
        if args.command in ("scaffold", "validate"):
            from hub.ops.author_cli import run_author_command

            return run_author_command(args, env)
    except HubError as err:
        for line in err.message.splitlines():
            print(f"hub: error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="A self-hosted integration hub.")
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    config_help = "config directory (default: $HUB_CONFIG, else ./config)"

    run = commands.add_parser("run", help="start the hub")
    run.add_argument("--config", metavar="DIR", help=config_help)
    run.add_argument("--host", help="address to listen on (overrides http.host)")
    run.add_argument("--port", type=int, help="port to listen on (overrides http.port)")

    check = commands.add_parser("check-config", help="validate configuration.yaml and exit")
    check.add_argument("--config", metavar="DIR", help=config_help)

    integrations = commands.add_parser(
        "integrations", help="list discovered integrations, and why any were skipped"
    )
    integrations.add_argument("--config", metavar="DIR", help=config_help)
    integrations.add_argument("--json", action="store_true", help="print JSON instead of a table")

    secrets = commands.add_parser("secrets", help="manage the master key")
    secrets_commands = secrets.add_subparsers(
        dest="secrets_command", metavar="ACTION", required=True
    )
    rotate = secrets_commands.add_parser(
        "rotate-key", help="re-wrap every data key under a new master key"
    )
    rotate.add_argument("--config", metavar="DIR", help=config_help)

    from hub.ops.backup_cli import add_backup_parser

    add_backup_parser(commands)
    from hub.ops.author_cli import add_author_parsers

    add_author_parsers(commands)
    return parser


def _schema_version() -> int:
    """This hub's database schema version (a backup made by a later one is refused)."""
    from hub.app import DATABASE_MIGRATIONS

    return len(DATABASE_MIGRATIONS)


def _check_config(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hub.config import CONFIG_FILE, load_config, resolve_config_dir, summarize

    config_dir = resolve_config_dir(args.config, env)
    if not (config_dir / CONFIG_FILE).exists():
        print(f"No {CONFIG_FILE} in {config_dir}: the defaults apply.")
    config = load_config(config_dir, env)
    print(summarize(config, config_dir))
    return 0


def _rotate_key(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hub.config import resolve_config_dir
    from hub.core.crypto import rotate_master_key
    from hub.core.storage import StorageManager

    config_dir = resolve_config_dir(args.config, env)
    with ConfigDirLock(config_dir):
        manager = StorageManager(config_dir)
        manager.prepare()
        result = asyncio.run(rotate_master_key(manager, env))
    print(result.message)
    return 0


def _integrations(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    import json

    from hub.config import load_config, resolve_config_dir
    from hub.core.logs import setup_logging
    from hub.core.storage import StorageManager
    from hub.integrations.catalog import IntegrationCatalog
    from hub.integrations.loader import Discovery, discover
    from hub.integrations.overview import overview
    from hub.integrations.registry import IntegrationRegistry

    config_dir = resolve_config_dir(args.config, env)
    config = load_config(config_dir, env)
    setup_logging("critical", {})  # the table says what the log would; keep stderr clean
    settings = config.integrations
    discovery = (
        discover(
            settings.bundled_dir, settings.external_dirs, allow_external=settings.allow_external
        )
        if settings.enabled
        else Discovery()
    )
    catalog = IntegrationCatalog(StorageManager(config_dir))  # read only: nothing is saved
    asyncio.run(catalog.load())
    view = overview(IntegrationRegistry(discovery), catalog.rows())
    if args.json:
        print(json.dumps(view, indent=2))
        return 0
    if not settings.enabled:
        print("Integrations are disabled (integrations.enabled: false).")
    columns = ("domain", "status", "version", "integration_type", "iot_class", "trust_tier")
    headers = ("DOMAIN", "STATUS", "VERSION", "TYPE", "IOT CLASS", "TRUST", "ENABLED")
    table = [headers] + [
        (*(str(item[c] or "-") for c in columns), "yes" if item["enabled"] else "no")
        for item in view["integrations"]
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if view["skipped"]:
        print("\nSkipped:")
        for skipped in view["skipped"]:
            print(f"  {skipped['path']}: {skipped['reason']}: {skipped['message']}")
    return 0


def _run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    # Start-up makes ~60,000 long-lived objects (modules, classes, schemas) and no garbage worth
    # collecting: each automatic collection would only scan them again (20-50 ms of CPU here).
    # They are frozen once the hub is ready, so no collection scans them afterwards either.
    gc.disable()
    try:
        return _start(args, env)
    finally:
        gc.enable()


def without_httpx_cli() -> None:
    """Keep httpx from importing its command-line client, which the hub never runs.

    httpx imports it whenever rich, click and pygments are installed, as packages beside the hub
    make them be: about 5 MB resident from the first model call (measured: 91.5 against 86.4 MB
    for pydantic-ai with its OpenAI model). A ``None`` in ``sys.modules`` makes that import fail,
    which httpx expects and answers with a stub ``httpx.main``.
    """
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _start(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from hub.config import CONFIG_FILE, ensure_config_file, load_config, resolve_config_dir

    without_httpx_cli()
    timeline = Timeline(origin=_T0)
    config_dir = resolve_config_dir(args.config, env)
    if (config_dir / ".restore").exists():  # a restore staged by the first page: before anything
        from hub.ops.backup_restore import apply_staged

        restored = apply_staged(config_dir)
        if restored is not None:
            print(f"Restored the backup of {restored.created_at} into {config_dir}", flush=True)
    with timeline.phase("config"):
        created = ensure_config_file(config_dir)
        config = _with_overrides(load_config(config_dir, env), args.host, args.port)
    from hub.core.deferred_ca import deferred_default_certificates
    from hub.core.logs import setup_logging

    setup_logging(config.logger.default, dict(config.logger.logs))
    timeline.mark("boot", timeline.elapsed())
    if created:
        _LOGGER.info("Created %s from the template", config_dir / CONFIG_FILE)
    with ConfigDirLock(config_dir):
        with timeline.phase("imports"), deferred_default_certificates():
            from hub.app import create_app

        app = create_app(config_dir, config, env=env, timeline=timeline)
        asyncio.run(_serve(app, config, timeline))
    from hub.api.backups import RESTART

    if app[RESTART].requested:  # a staged restore: start again (the lock is released) to apply it
        _LOGGER.info("Restarting to apply the restored backup")
        os.execv(sys.executable, sys.orig_argv)  # noqa: S606  # this process's own command line
    return 0


def _with_overrides(config: HubConfig, host: str | None, port: int | None) -> HubConfig:
    update: dict[str, object] = {}
    if host:
        update["host"] = host
    if port is not None:
        if not 1 <= port <= 65535:
            raise ConfigError(f"--port {port}: must be between 1 and 65535")
        update["port"] = port
    if not update:
        return config
    return config.model_copy(update={"http": config.http.model_copy(update=update)})


async def _serve(app: web.Application, config: HubConfig, timeline: Timeline) -> None:
    from hub.api.connections import app_runner, quiet_accept_errors, start_site
    from hub.api.state import BUS
    from hub.core.bus import EVENT_HUB_STARTED
    from hub.core.file_limit import check_capacity, raise_file_limit

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    http = config.http
    check_capacity(raise_file_limit(), http.max_connections)
    runner = app_runner(app, http)
    with quiet_accept_errors(loop):  # from the first accept() to the last
        try:
            await runner.setup()
            with timeline.phase("http"):
                try:
                    await start_site(runner, http, _ssl_context(config))
                except OSError as err:
                    raise _bind_error(err, http.host, http.port) from None
            ready = timeline.elapsed()
            _LOGGER.info("Hub %s ready in %.0f ms", __version__, ready * 1000)
            _settle_heap()
            app[BUS].fire(EVENT_HUB_STARTED)
            for url in _urls(config):
                print(f"Hub is running: open {url}", flush=True)
            await stop.wait()
            _LOGGER.info("Stopping")
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            await runner.cleanup()
            _LOGGER.info("Stopped")


def _settle_heap() -> None:
    """Move what start-up built out of every later collection's reach, and collect from now on."""
    # Not collected first: a full pass over start-up's objects holds the event loop ~30 ms right
    # when the first requests come, to free ~2,000 objects (~0.6 MiB resident).
    gc.freeze()
    gc.enable()


def _ssl_context(config: HubConfig) -> ssl.SSLContext | None:
    http = config.http
    if http.ssl_certificate is None or http.ssl_key is None:
        return None
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(http.ssl_certificate, http.ssl_key)
    except (ssl.SSLError, OSError) as err:
        raise ConfigError(
            f"http.ssl_certificate / http.ssl_key: cannot load {http.ssl_certificate} with "
            f"{http.ssl_key} ({err})"
        ) from None
    return context


def _bind_error(err: OSError, host: str, port: int) -> HubError:
    if err.errno == errno.EADDRINUSE:
        reason = "another program already listens there"
    elif err.errno == errno.EACCES:
        reason = "permission denied (ports below 1024 need privileges)"
    elif err.errno == errno.EADDRNOTAVAIL:
        reason = "this machine has no such address"
    else:
        reason = err.strerror or str(err)
    return PortUnavailableError(
        f"cannot listen on {host}:{port}: {reason}; choose another with --port, --host or the "
        "http section of configuration.yaml"
    )


def _urls(config: HubConfig) -> list[str]:
    http = config.http
    scheme = "https" if http.ssl_certificate else "http"
    if http.host in ("0.0.0.0", "::", ""):
        hosts = ["127.0.0.1", socket.gethostname()]
    else:
        hosts = [f"[{http.host}]" if ":" in http.host else http.host]
    return [f"{scheme}://{host}:{http.port}/" for host in hosts]
