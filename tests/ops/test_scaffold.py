"""``hub scaffold``: every combination of options loads, adds an entry through a real hub, and passes
its own generated test; an existing folder is never touched."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_aiohttp import AiohttpClient

from hub.api.state import CONFIG_ENTRIES
from hub.app import create_app
from hub.cli import main
from hub.config import SOURCE_ROOT, HubConfig
from hub.integrations.loader import scan
from hub.integrations.registry import IntegrationRegistry
from hub.ops.scaffold import FLOW_KINDS, ScaffoldError, ScaffoldOptions, render, scaffold
from hub.ops.validate import validate
from tests.auth_helpers import OWNER, OWNER_PASSWORD, sign_in
from tests.hub_client import HubClient

COMBINATIONS = [
    ScaffoldOptions(f"made_{flow}_{int(entities)}{int(webhook)}", flow, entities, webhook)
    for flow, entities, webhook in itertools.product(FLOW_KINDS, (False, True), (False, True))
]
ANSWERS = {"base_url": "https://service.example/", "api_key": "scaffold-key-0123456789"}


def label(options: ScaffoldOptions) -> str:
    """A readable test id: the flow and the extras."""
    extras = [
        name for name, on in (("entities", options.entities), ("webhook", options.webhook)) if on
    ]
    return "-".join([options.flow, *extras])


async def add_entry(hub: HubClient, domain: str) -> dict[str, Any]:
    """Answer every form the flow shows, as a person would, until the entry is made."""
    answer = await hub.start_flow(domain)
    for _ in range(5):
        if answer["type"] != "form":
            break
        assert answer["errors"] == {}, answer
        user_input = {field["name"]: ANSWERS[field["name"]] for field in answer["data_schema"]}
        answer = await hub.submit(answer["flow_id"], user_input)
    assert answer["type"] == "create_entry", answer
    return answer


@pytest.mark.parametrize("options", COMBINATIONS, ids=label)
async def test_the_loader_loads_it_and_a_flow_through_the_hub_makes_an_entry(
    options: ScaffoldOptions, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    external = tmp_path / "integrations"
    folder = scaffold(options, external)
    assert folder == external / options.domain

    registry = IntegrationRegistry(
        scan(SOURCE_ROOT / "integrations", [external], allow_external=True)
    )
    await registry.load([options.domain])
    loaded = registry.get(options.domain)
    assert loaded is not None, registry.skipped_domain(options.domain)
    assert loaded.source == "external"
    assert loaded.integration.config_flow_cls is not None
    assert loaded.missing_requirements == ()
    assert validate([folder]).problems == ()

    settings = {"external_dirs": [str(external)], "allow_external": True}
    config = HubConfig.model_validate({"integrations": settings})
    client = await aiohttp_client(create_app(tmp_path / "config", config, env={}))
    await sign_in(client, OWNER, OWNER_PASSWORD)
    assert client.app is not None
    hub = HubClient(client, client.app)
    done = await add_entry(hub, options.domain)
    assert done["title"] == "https://service.example"
    status, entry = await hub.get(f"/api/config-entries/{done['entry_id']}")
    assert status == 200, entry
    assert (entry["state"], entry["data"]) == ("loaded", {"base_url": "https://service.example"})
    stored = hub.app[CONFIG_ENTRIES].require(done["entry_id"])
    assert ANSWERS["api_key"] not in repr(dict(stored.data)), "the key is kept only encrypted"

    status, catalog = await hub.get("/api/integrations")
    [item] = [item for item in catalog["integrations"] if item["domain"] == options.domain]
    assert item["features"]["pulls"] is options.entities
    assert item["features"]["webhooks"] is options.webhook


def test_every_combination_passes_its_own_test_in_a_subprocess(tmp_path: Path) -> None:
    for options in COMBINATIONS:
        scaffold(options, tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # 3 tests each, one more with entities, one more with a webhook.
    expected = sum(3 + options.entities + options.webhook for options in COMBINATIONS)
    assert f"{expected} passed" in result.stdout, result.stdout


def test_the_generated_code_passes_ruff_as_the_bundled_code_does(tmp_path: Path) -> None:
    for options in COMBINATIONS:
        scaffold(options, tmp_path)
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python")
    config = str(SOURCE_ROOT / "pyproject.toml")
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [str(ruff), *command, "--config", config, str(tmp_path)],
            cwd=SOURCE_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_translations_speak_english_and_german_with_the_same_keys() -> None:
    files = render(ScaffoldOptions("two_tongues", "multi", entities=True, webhook=True))
    assert files["translations/en.json"] != files["translations/de.json"]
    assert '"label": "Adresse des Dienstes"' in files["translations/de.json"]
    assert '"credentials"' in files["translations/en.json"], "the second step has its words"
    simple = render(ScaffoldOptions("one_form"))
    assert '"credentials"' not in simple["translations/en.json"], "no words for a step it lacks"
    assert "entities.py" not in simple


def test_an_existing_folder_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    mine = tmp_path / "weather"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own work")
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold(ScaffoldOptions("weather", entities=True), tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["weather"], "no staging folder left"
    assert [path.name for path in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "my own work"


def test_the_command_refuses_an_existing_folder_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scaffold", "meter", "--dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert f"Created {tmp_path / 'meter'}" in first
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    (tmp_path / "meter" / "manifest.yaml").write_text("domain: meter\nname: Mine\n")

    assert main(["scaffold", "meter", "--dir", str(tmp_path), "--webhook"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before
    assert (tmp_path / "meter" / "manifest.yaml").read_text() == "domain: meter\nname: Mine\n"


def test_a_name_that_is_no_domain_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for bad in ("Weather", "9lives", "my-thing", "../escape"):
        assert main(["scaffold", bad, "--dir", str(tmp_path)]) == 1
        assert "is not a domain" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_without_dir_it_writes_into_the_first_external_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir, first, second = tmp_path / "config", tmp_path / "first", tmp_path / "second"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(
        f"integrations:\n  external_dirs: [{first}, {second}]\n  allow_external: true\n"
    )
    assert main(["scaffold", "porch", "--config", str(config_dir)]) == 0
    assert (first / "porch" / "manifest.yaml").is_file()
    assert not second.exists()
    monkeypatch.chdir(tmp_path)  # no configuration here: ./integrations
    monkeypatch.setenv("HUB_CONFIG", str(tmp_path / "nothing"))
    assert main(["scaffold", "attic"]) == 0
    assert (tmp_path / "integrations" / "attic" / "__init__.py").is_file()
    capsys.readouterr()


def test_a_dir_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_dir = tmp_path / "plain.txt"
    not_a_dir.write_text("")
    assert main(["scaffold", "shed", "--dir", str(not_a_dir)]) == 1
    assert f"cannot write into {not_a_dir}" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["plain.txt"]
