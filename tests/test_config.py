"""configuration.yaml: defaults, the template, environment overrides, and every kind of error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.config import (
    CONFIG_FILE,
    DEFAULT_PORT,
    SOURCE_ROOT,
    HubConfig,
    ensure_config_file,
    load_config,
    resolve_config_dir,
)
from hub.core.errors import ConfigError


def write(config_dir: Path, text: str) -> Path:
    path = config_dir / CONFIG_FILE
    path.write_text(text)
    return path


def error_of(config_dir: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, env or {})
    return info.value.message


def test_missing_and_empty_file_give_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path, {}).http.port == DEFAULT_PORT
    write(tmp_path, "")
    config = load_config(tmp_path, {})
    assert config.http.port == 8321
    assert config.integrations.flow_ttl_seconds == 600
    assert config.integrations.bundled_dir == SOURCE_ROOT / "integrations"
    assert config.language == "en"


def test_first_start_template_is_commented_defaults(tmp_path: Path) -> None:
    config_dir = tmp_path / "new"
    assert ensure_config_file(config_dir) is True
    text = (config_dir / CONFIG_FILE).read_text()
    assert "port: 8321" in text
    assert "HUB__" in text
    assert load_config(config_dir, {}) == load_config(tmp_path / "absent", {})
    (config_dir / CONFIG_FILE).write_text("language: de\n")
    assert ensure_config_file(config_dir) is False
    assert (config_dir / CONFIG_FILE).read_text() == "language: de\n"


def test_template_settings_are_valid_when_uncommented(tmp_path: Path) -> None:
    """A person uncommenting the template's examples must get a valid file."""
    key_line = re.compile(r"^# (\s*(- )?[a-z_][a-z0-9_.]*:(\s|$).*)$")
    template = (SOURCE_ROOT / "hub" / "configuration.template.yaml").read_text()
    lines = [match[1] for match in map(key_line.match, template.splitlines()) if match]
    text = "\n".join(lines).replace("models: []", "models:")
    write(tmp_path, text)
    config = load_config(tmp_path, {})
    assert config.logger.logs["hub.core"] == "debug"
    assert config.models[0].tier == "internal"
    assert config.scheduler.sync_intervals.cloud_polling == 300


def test_a_full_file_is_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
http:
  host: 127.0.0.1
  port: 8400
  trusted_proxies: [172.30.0.0/16, "::1/128"]
integrations:
  external_dirs: [/opt/hub-integrations]
  allow_external: true
  flow_ttl_seconds: 120
language: de
logger:
  default: WARNING
  logs: {hub.core.storage: DEBUG}
history: {retention_days: 30}
scheduler:
  sync_intervals: {cloud_polling: 600}
models:
  - {name: local, base_url: "http://127.0.0.1:11434/v1", model: llama3.1, tier: internal}
""",
    )
    config = load_config(tmp_path, {})
    assert config.http.port == 8400
    assert [str(net) for net in config.http.trusted_proxies] == ["172.30.0.0/16", "::1/128"]
    assert config.integrations.external_dirs == (Path("/opt/hub-integrations"),)
    assert config.logger.default == "warning"
    assert config.logger.logs == {"hub.core.storage": "debug"}
    assert config.scheduler.sync_intervals.cloud_polling == 600
    assert config.scheduler.sync_intervals.local_polling == 30
    assert config.models[0].name == "local"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "http:\n  port: 70000\n",
            "line 2: http.port: Input should be less than or equal to 65535",
        ),
        ("http:\n  prot: 1\n", "line 2: http.prot: unknown key (did you mean 'port'?)"),
        ("htp:\n  port: 1\n", "line 1: htp: unknown key (did you mean 'http'?)"),
        ("http:\n  xyzzy: 1\n", "line 2: http.xyzzy: unknown key (known keys: host, port,"),
        (
            "logger:\n  default: loud\n",
            "line 2: logger.default: 'loud' is not allowed (use 'debug'",
        ),
        ("history:\n  retention_days: soon\n", "line 2: history.retention_days: Input should be"),
        ("integrations:\n  external_dirs: [relative/dir]\n", "must be an absolute path"),
        ("http:\n  ssl_key: key.pem\n", "line 1: http: ssl_certificate and ssl_key must be set"),
        (
            "models:\n  - name: a\n    base_url: ftp://x\n    model: m\n",
            "line 3: models[0].base_url: String should match pattern",
        ),
        ("http:\n  port: 1\n  port: 2\n", "line 3: http.port: key appears twice"),
        ("- just\n- a list\n", "line 1: the file must be a mapping of sections"),
        ("http: [\n", "line 2, column 1: not valid YAML"),
        ("http:\n\tport: 1\n", "not valid YAML"),
    ],
)
def test_each_error_names_file_key_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    message = error_of(tmp_path)
    assert message.startswith(str(path))
    assert expected in message
    assert "Traceback" not in message


def test_several_errors_are_each_on_their_own_line(tmp_path: Path) -> None:
    write(tmp_path, "http:\n  port: 0\nlanguage: 12\nhistory:\n  retention_days: 0\n")
    lines = error_of(tmp_path).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(tmp_path / CONFIG_FILE)) for line in lines)


def test_environment_overrides_win_over_the_file(tmp_path: Path) -> None:
    write(tmp_path, "http:\n  port: 8400\nlanguage: fr\n")
    env = {
        "HUB__HTTP__PORT": "8500",
        "HUB__INTEGRATIONS__ALLOW_EXTERNAL": "true",
        "HUB__INTEGRATIONS__EXTERNAL_DIRS": "[/srv/a, /srv/b]",
        "HUB__LOGGER__LOGS__AIOHTTP": "DEBUG",
        "HUB_CONFIG": "/ignored/not/an/override",
        "UNRELATED": "x",
    }
    config = load_config(tmp_path, env)
    assert config.http.port == 8500
    assert config.language == "fr"
    assert config.integrations.allow_external is True
    assert config.integrations.external_dirs == (Path("/srv/a"), Path("/srv/b"))
    assert config.logger.logs == {"aiohttp": "debug"}


def test_a_bad_environment_override_names_the_variable(tmp_path: Path) -> None:
    write(tmp_path, "http:\n  port: 8400\n")
    message = error_of(tmp_path, {"HUB__HTTP__PORT": "eighty"})
    assert message.startswith("environment variable HUB__HTTP__PORT: http.port:")
    assert "unknown key" in error_of(tmp_path, {"HUB__HTTP__PROT": "1"})
    assert "is not a section" in error_of(
        tmp_path, {"HUB__LANGUAGE__X": "1", "HUB__LANGUAGE": "de"}
    )


def test_tls_files_must_exist_and_resolve_in_the_config_dir(tmp_path: Path) -> None:
    write(tmp_path, "http:\n  ssl_certificate: cert.pem\n  ssl_key: key.pem\n")
    assert "http.ssl_certificate: file" in error_of(tmp_path)
    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "key.pem").write_text("x")
    config = load_config(tmp_path, {})
    assert config.http.ssl_certificate == tmp_path / "cert.pem"


def test_unreadable_bytes_are_reported(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_bytes(b"http:\n  host: \xff\xfe\n")
    assert "cannot be read" in error_of(tmp_path)


def test_config_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_config_dir(None, {}) == tmp_path / "config"
    assert resolve_config_dir(None, {"HUB_CONFIG": "/srv/hub"}) == Path("/srv/hub")
    assert resolve_config_dir("other", {"HUB_CONFIG": "/srv/hub"}) == tmp_path / "other"


def test_configuration_is_immutable() -> None:
    config = HubConfig()
    with pytest.raises(ValueError, match="frozen"):
        config.language = "de"
