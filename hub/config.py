"""``configuration.yaml``: pydantic models, environment overrides, and errors that name file, key and line."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.core.errors import ConfigError
from hub.core.yamlfile import Loc, describe, dotted, line_of, parse_mapping

CONFIG_FILE: Final = "configuration.yaml"
CONFIG_DIR_ENV: Final = "HUB_CONFIG"
DEFAULT_CONFIG_DIR: Final = Path("config")
ENV_PREFIX: Final = "HUB__"
DEFAULT_PORT: Final = 8321
"""Home Assistant owns 8123; 8321 lets both run on one box."""

SOURCE_ROOT: Final = Path(__file__).resolve().parent.parent
"""The hub's source tree; a relative ``bundled_dir`` is resolved against it."""

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
Tier = Literal["unregulated", "regulated", "internal"]
Seconds = Annotated[float, Field(gt=0)]
SyncSeconds = Annotated[int, Field(ge=5, le=7 * 24 * 3600)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpConfig(_Section):
    """Where the web server listens, and how."""

    host: str = "0.0.0.0"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    ssl_certificate: Path | None = None
    ssl_key: Path | None = None
    webhook_rate_per_second: float = Field(default=20.0, gt=0)
    """Requests a second each entry's webhook accepts on average; more are answered 429."""
    webhook_burst: int = Field(default=60, ge=1)
    webhook_max_body_kib: int = Field(default=256, ge=1, le=65536)
    allowed_origins: tuple[Annotated[str, Field(pattern=r"^https?://[^/\s]+$")], ...] = ()
    """Web origins (``https://hub.example``) besides the hub's own that may onboard and open the
    websocket, e.g. a reverse proxy's public address when it does not pass the scheme through."""
    websocket_queue_kib: int = Field(default=1024, ge=64, le=65536)
    """Bytes a websocket client may leave unread before it is disconnected as too slow."""
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """Seconds a connection has to send a whole request head, from connecting or from its last
    answer: a slow (slowloris) or idle keep-alive connection is closed after it."""
    body_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    """Seconds a request body may stall (no byte arriving) before it is refused with 408; a slow
    upload that keeps going is never cut off."""
    max_connections: int = Field(default=512, ge=1, le=65536)
    """Open connections in all (websockets included); one more is closed as soon as it opens."""
    max_connections_per_address: int = Field(default=64, ge=1, le=65536)
    """Open connections from one client address (an IPv6 /64); trusted proxies are not counted."""

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if (self.ssl_certificate is None) != (self.ssl_key is None):
            raise ValueError("ssl_certificate and ssl_key must be set together")
        return self


class IntegrationsConfig(_Section):
    """Where integrations are discovered and how config flows behave."""

    enabled: bool = True
    bundled_dir: Path = SOURCE_ROOT / "integrations"
    external_dirs: tuple[Path, ...] = ()
    allow_external: bool = False
    flow_ttl_seconds: int = Field(default=600, ge=30, le=86400)
    max_flows_per_person: int = Field(default=20, ge=1, le=10_000)
    """Unfinished config flows one person may have at once; starting another drops their oldest."""
    max_entries_per_person: int = Field(default=200, ge=1, le=100_000)
    """Config entries one person may own; global entries (only admins add them) are not counted."""

    @field_validator("external_dirs")
    @classmethod
    def _absolute(cls, dirs: tuple[Path, ...]) -> tuple[Path, ...]:
        for directory in dirs:
            if not directory.is_absolute():
                raise ValueError(f"external dir {str(directory)!r} must be an absolute path")
        return dirs


class LoggerConfig(_Section):
    """Log levels: a default and per-logger overrides."""

    default: LogLevel = "info"
    logs: dict[str, LogLevel] = Field(default_factory=dict)

    @field_validator("default", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("logs", mode="before")
    @classmethod
    def _lower_all(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v.lower() if isinstance(v, str) else v for k, v in value.items()}
        return value


RetentionDays = Annotated[int, Field(ge=1, le=3650)]
_ENTITY_TYPE_KEY: Final = re.compile(r"^[a-z][a-z0-9_]*\.\S+$")


class HistoryConfig(_Section):
    """How long state history and the event log are kept, and how often the purge runs."""

    retention_days: RetentionDays = 10
    entity_types: dict[str, RetentionDays] = Field(default_factory=dict)
    """Days by ``<domain>.<entity_type>``; an entity's own setting overrides its type's."""
    purge_interval_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    event_log_size: int = Field(default=10_000, ge=100, le=1_000_000)

    @field_validator("entity_types")
    @classmethod
    def _type_keys(cls, value: dict[str, int]) -> dict[str, int]:
        for key in value:
            if not _ENTITY_TYPE_KEY.match(key):
                raise ValueError(f"{key!r} is not <domain>.<entity_type> (e.g. signal.message)")
        return value


class SyncIntervals(_Section):
    """Default seconds between pull syncs, by an integration's ``iot_class``."""

    local_in_process: SyncSeconds = 60
    local_polling: SyncSeconds = 30
    local_push: SyncSeconds = 900
    cloud_polling: SyncSeconds = 300
    cloud_push: SyncSeconds = 900


class SchedulerConfig(_Section):
    """Background job defaults."""

    job_timeout_seconds: Seconds = 60.0
    jitter_seconds: float = Field(default=5.0, ge=0)
    sync_intervals: SyncIntervals = SyncIntervals()
    sync_cooldown_seconds: float = Field(default=30.0, ge=0, le=3600)
    """Seconds after an on-demand sync of an entry before a member may ask for the next (0: none)."""


class ModelConfig(_Section):
    """One OpenAI-compatible model endpoint and the data tier it may see."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    base_url: str = Field(pattern=r"^https?://[^\s]+$", max_length=500)
    model: str = Field(min_length=1, max_length=200)
    tier: Tier = "unregulated"
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable holding the API key; a key is never written in this file."""
    default: bool = False


class AgentConfig(_Section):
    """Limits of an agent run."""

    run_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    request_timeout_seconds: float = Field(default=120.0, gt=0, le=600)
    max_tool_calls: int = Field(default=25, ge=1, le=200)
    history_turns: int = Field(default=20, ge=1, le=500)
    """How many earlier turns of a conversation go to the model with each new message."""
    approval_timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)
    """How long a tool call that needs a person's approval waits for it; then it is denied."""


class CommsConfig(_Section):
    """Message ingestion and the listeners that watch each account."""

    ingest_batch: int = Field(default=200, ge=1, le=5_000)
    """Messages asked of a reader at once; a pull asks again while a batch comes back full."""
    ingest_max_batches: int = Field(default=500, ge=1, le=100_000)
    trigger_debounce_seconds: float = Field(default=0.05, ge=0, le=60)
    """A listener's burst of "something arrived" becomes one pull after this quiet time."""
    listener_watchdog_seconds: float = Field(default=900.0, ge=1, le=86_400)
    """A listener with no sign of life for this long is restarted."""
    listener_backoff_seconds: float = Field(default=1.0, gt=0, le=3600)
    """The first wait before restarting a listener that failed; it doubles, with jitter."""
    listener_backoff_max_seconds: float = Field(default=60.0, gt=0, le=86_400)
    """The longest wait: after a long outage the account is back within a minute of its server."""
    listener_stop_seconds: float = Field(default=1.5, gt=0, le=30)
    """How long a stopping listener may take to return before it is cancelled."""


class SandboxConfig(_Section):
    """The agent's ``run_in_sandbox`` tool: the built-in provider an admin may turn on, and its limits."""

    provider: Literal["none", "bubblewrap"] = "none"
    """The built-in provider used when no integration offers compute; ``none``: only integrations."""
    required_tier: Tier = "unregulated"
    """The lowest model tier that may use the built-in provider (it sees the host's programs)."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    """The wall-clock limit of a program (an agent may ask for less, never more)."""
    cpu_seconds: int = Field(default=10, ge=1, le=3600)
    memory_mib: int = Field(default=128, ge=16, le=65536)
    """Address space of each sandboxed process."""
    max_processes: int = Field(default=8, ge=1, le=4096)
    output_kib: int = Field(default=64, ge=1, le=16384)
    """Bytes of stdout and of stderr kept; a program printing more is stopped."""
    scratch_mib: int = Field(default=64, ge=1, le=65536)
    """Size of the program's writable scratch directory (held in memory, gone after the run)."""
    max_concurrent: int = Field(default=2, ge=1, le=64)


class WebhooksConfig(_Section):
    """Inbound webhooks: duplicate deliveries, the delivery log, and how long a sender waits."""

    dedupe_window_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    """A delivery whose sender id (``X-GitHub-Delivery``, ``webhook-id``…) was seen this recently
    is answered 200 and applies nothing."""
    log_body_max_kib: int = Field(default=64, ge=1, le=16384)
    """Bytes of each body the delivery log keeps; a longer body is kept cut (and not replayable)."""
    log_retention_days: float = Field(default=7.0, gt=0, le=3650)
    log_max_rows_per_entry: int = Field(default=1000, ge=10, le=1_000_000)
    answer_budget_seconds: float = Field(default=8.0, gt=0, le=300)
    """Past this, the sender is answered 202 (recorded) and the handling finishes in the background;
    GitHub gives up after 10 s."""


class WorkflowsConfig(_Section):
    """Workflows: how many a person may have, how long runs are kept, the loop guard, http steps."""

    max_per_person: int = Field(default=100, ge=1, le=10_000)
    """Personal workflows per person (household ones count toward the admin who saved them)."""
    run_retention_days: float = Field(default=30.0, gt=0, le=3650)
    runs_per_workflow: int = Field(default=500, ge=1, le=100_000)
    """Runs kept per workflow, newest first, within the retention."""
    loop_limit: int = Field(default=10, ge=1, le=10_000)
    """A workflow triggering itself more often than this within ``loop_window_seconds`` is
    switched off as looping."""
    loop_window_seconds: float = Field(default=10.0, gt=0, le=3600)
    misfire_grace_seconds: float = Field(default=3600.0, ge=0, le=7 * 86_400)
    """A schedule missed (the hub was down or busy) by at most this much still runs, once."""
    http_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    http_max_response_kib: int = Field(default=64, ge=1, le=16384)
    """Bytes of an http step's response kept; the rest is cut."""


class BackupsConfig(_Section):
    """Scheduled backups: how often, how many kept, where, and whether with history."""

    schedule_hours: float | None = Field(default=None, ge=0, le=24 * 366)
    """Hours between scheduled backups; 0: none; unset: 24, once a recovery key or a backup
    passphrase exists (a backup is always encrypted, so without either there is none)."""
    keep: int = Field(default=7, ge=1, le=10_000)
    """Scheduled backups kept, newest first; backups made by hand are never deleted."""
    directory: Path | None = None
    """Where backups are written; relative to the config directory; default ``backups``."""
    include_history: bool = False

    @field_validator("directory")
    @classmethod
    def _outside_storage(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_absolute() and value.parts[:1] == (".storage",):
            raise ValueError(
                "backups cannot be kept inside .storage (they would back up themselves)"
            )
        return value

    def resolved_directory(self, config_dir: Path) -> Path:
        """The backup directory, anchored at the config directory."""
        return config_dir / (self.directory or Path("backups"))


class HubConfig(_Section):
    """The whole of ``configuration.yaml``."""

    http: HttpConfig = HttpConfig()
    integrations: IntegrationsConfig = IntegrationsConfig()
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    logger: LoggerConfig = LoggerConfig()
    history: HistoryConfig = HistoryConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    models: tuple[ModelConfig, ...] = ()
    agent: AgentConfig = AgentConfig()
    comms: CommsConfig = CommsConfig()
    sandbox: SandboxConfig = SandboxConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    workflows: WorkflowsConfig = WorkflowsConfig()
    backups: BackupsConfig = BackupsConfig()

    @model_validator(mode="after")
    def _unique_model_names(self) -> HubConfig:
        names = [model.name for model in self.models]
        if len(names) != len(set(names)):
            raise ValueError("model names must be unique")
        if sum(model.default for model in self.models) > 1:
            raise ValueError("at most one model may be the default")
        return self


def resolve_config_dir(arg: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    """``--config``, else ``$HUB_CONFIG``, else ``./config``."""
    if arg:
        return Path(arg).expanduser().resolve()
    if env.get(CONFIG_DIR_ENV):
        return Path(env[CONFIG_DIR_ENV]).expanduser().resolve()
    return DEFAULT_CONFIG_DIR.resolve()


def template_text() -> str:
    """The commented ``configuration.yaml`` written on first start."""
    return resources.files("hub").joinpath("configuration.template.yaml").read_text("utf-8")


def ensure_config_file(config_dir: Path) -> bool:
    """Create the config directory and a commented ``configuration.yaml`` if missing; True if created."""
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / CONFIG_FILE
    if path.exists():
        return False
    from hub.core.storage import write_atomic

    write_atomic(path, template_text().encode(), mode=0o644)
    return True


def load_config(config_dir: Path, env: Mapping[str, str]) -> HubConfig:
    """Read, override from the environment, and validate; a ``ConfigError`` says what and where."""
    path = config_dir / CONFIG_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({err})") from None
    raw, lines = parse_mapping(
        text, path, ConfigError, "the file must be a mapping of sections (http:, ...)"
    )
    env_sources = _apply_env_overrides(raw, env, path)
    try:
        config = HubConfig.model_validate(raw)
    except ValidationError as err:

        def where(loc: Loc) -> tuple[int, str]:
            for end in range(len(loc), 0, -1):
                if loc[:end] in env_sources:
                    return 1 << 30, f"environment variable {env_sources[loc[:end]]}"
            line = line_of(loc, lines)
            return line, f"{path}, line {line}" if line else str(path)

        raise ConfigError(describe(err, HubConfig, where)) from None
    return _resolve_paths(config, config_dir, path)


def _apply_env_overrides(
    raw: dict[str, Any], env: Mapping[str, str], path: Path
) -> dict[tuple[str, ...], str]:
    """Merge ``HUB__SECTION__KEY=value`` into ``raw``; values are read as YAML scalars."""
    sources: dict[tuple[str, ...], str] = {}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if not all(keys):
            raise ConfigError(f"environment variable {name}: empty key (use HUB__SECTION__KEY)")
        try:
            value = yaml.safe_load(env[name])
        # Not YAML, or YAML that PyYAML cannot construct (`2024-13-01`, nesting past its recursion).
        except (yaml.YAMLError, ValueError, OverflowError, RecursionError):
            value = env[name]
        target = raw
        for depth, key in enumerate(keys[:-1]):
            existing = target.setdefault(key, {})
            if not isinstance(existing, dict):
                place = dotted(keys[: depth + 1])
                raise ConfigError(
                    f"environment variable {name}: {place} in {path} is not a section"
                )
            target = existing
        target[keys[-1]] = value
        sources[keys] = name
    return sources


def _resolve_paths(config: HubConfig, config_dir: Path, path: Path) -> HubConfig:
    """Anchor relative paths and check that the TLS files exist."""
    http = config.http
    if http.ssl_certificate is not None and http.ssl_key is not None:
        cert = config_dir / http.ssl_certificate
        key = config_dir / http.ssl_key
        for name, file in (("http.ssl_certificate", cert), ("http.ssl_key", key)):
            if not file.is_file():
                raise ConfigError(f"{path}: {name}: file {file} does not exist")
        http = http.model_copy(update={"ssl_certificate": cert, "ssl_key": key})
    bundled = SOURCE_ROOT / config.integrations.bundled_dir
    integrations = config.integrations.model_copy(update={"bundled_dir": bundled})
    return config.model_copy(update={"http": http, "integrations": integrations})


def summarize(config: HubConfig, config_dir: Path) -> str:
    """A short human summary for ``hub check-config``."""
    scheme = "https" if config.http.ssl_certificate else "http"
    external = f"{len(config.integrations.external_dirs)} external dir(s)" + (
        " (allowed)" if config.integrations.allow_external else " (not scanned)"
    )
    return "\n".join(
        [
            f"Configuration OK: {config_dir / CONFIG_FILE}",
            f"  http: {scheme}://{config.http.host}:{config.http.port}",
            f"  integrations: {'enabled' if config.integrations.enabled else 'disabled'}, "
            f"bundled dir {config.integrations.bundled_dir}, {external}",
            f"  language: {config.language}; log level: {config.logger.default}",
            f"  history: {config.history.retention_days} days; models: {len(config.models)}",
        ]
    )
