"""``hub validate``: the bundled integrations pass, and each mistake it promises to catch is named.

Each case starts from a folder that passes (a fresh scaffold, or one of ``on_disk/``, which are
valid but for their one mistake) and expects exit 1 with exactly the line naming that mistake.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from hub.cli import main
from hub.config import SOURCE_ROOT
from hub.ops.scaffold import ScaffoldOptions, scaffold

ON_DISK = Path(__file__).resolve().parent / "on_disk"


def run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """``hub validate path``: the exit code and the problem lines (the summary left out)."""
    code = main(["validate", str(path)])
    out = capsys.readouterr().out.splitlines()
    assert out, "a summary line at least"
    return code, out[:-1]


@pytest.fixture
def gauge(tmp_path: Path) -> Path:
    """A freshly scaffolded integration with a pulled entity type: it passes as it is."""
    return scaffold(ScaffoldOptions("gauge", entities=True), tmp_path / "integrations")


def edit_json(path: Path, change: Any) -> None:
    """Load a translation file, let ``change`` edit it, and write it back."""
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def test_the_bundled_integrations_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0, capsys.readouterr().out
    default = capsys.readouterr().out
    assert default.endswith("integration folder(s) checked: no problems\n")
    assert main(["validate", str(SOURCE_ROOT / "integrations")]) == 0
    assert capsys.readouterr().out == default


def test_a_fresh_scaffold_passes(gauge: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(gauge, capsys) == (0, [])
    assert run(gauge.parent, capsys) == (0, []), "a folder of integrations is checked too"


def test_a_bad_manifest_is_named_with_its_line(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = gauge / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("cloud_polling", "cloud_polled"))
    code, lines = run(gauge, capsys)
    assert code == 1
    assert lines == [
        f"gauge: {manifest}: line 7: iot_class: 'cloud_polled' is not allowed (use "
        "'local_in_process', 'local_polling', 'local_push', 'cloud_polling' or 'cloud_push')"
    ]


def test_a_domain_other_than_the_folder_name(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meter = gauge.rename(gauge.with_name("meter"))
    code, lines = run(meter, capsys)
    assert code == 1
    assert lines == [
        f"meter: {meter / 'manifest.yaml'}: domain 'gauge' differs from the folder name 'meter'; "
        "the hub skips such a folder"
    ]


def test_a_key_the_code_uses_that_en_json_lacks(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for language in ("en", "de"):  # both, so that only the missing key is wrong
        edit_json(gauge / f"translations/{language}.json", lambda d: d["field"].pop("base_url"))
    code, lines = run(gauge, capsys)
    assert code == 1
    flow = gauge / "config_flow.py"
    assert lines == [
        f"gauge: {flow}: line 11: key 'field.base_url.label' is not in en.json",
        f"gauge: {flow}: line 11: key 'field.base_url.placeholder' is not in en.json",
    ]


def test_an_entity_type_name_that_en_json_lacks(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for language in ("en", "de"):
        edit_json(
            gauge / f"translations/{language}.json", lambda d: d["entity"]["status"].pop("name")
        )
    code, lines = run(gauge, capsys)
    assert code == 1
    assert lines == [
        f"gauge: {gauge / '__init__.py'}: entity_types()['status']: key 'entity.status.name' "
        "is not in en.json"
    ]


def test_an_error_key_only_the_hub_words_is_no_problem(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The hub's own translations say "invalid_url" too: a lookup falls back to them.
    for language in ("en", "de"):
        edit_json(gauge / f"translations/{language}.json", lambda d: d.pop("error"))
    assert run(gauge, capsys) == (0, [])


def test_german_with_a_key_missing_and_one_too_many(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["error"]["invalid_url"]
        data["error"]["invalid_ulr"] = "Vertippt"

    german = gauge / "translations/de.json"
    edit_json(german, change)
    code, lines = run(gauge, capsys)
    assert code == 1
    assert lines == [
        f"gauge: {german}: missing key 'error.invalid_url' (en.json has it)",
        f"gauge: {german}: extra key 'error.invalid_ulr' (en.json has no such key)",
    ]


def test_another_language_follows_en_json_too(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    french = gauge / "translations/fr.json"
    shutil.copy(gauge / "translations/en.json", french)
    assert run(gauge, capsys) == (0, [])
    edit_json(french, lambda d: d.pop("description"))
    code, lines = run(gauge, capsys)
    assert (code, lines) == (1, [f"gauge: {french}: missing key 'description' (en.json has it)"])


def test_a_form_for_a_step_the_flow_does_not_have(capsys: pytest.CaptureFixture[str]) -> None:
    folder = ON_DISK / "unknown_step"
    code, lines = run(folder, capsys)
    assert code == 1
    assert lines == [
        f"unknown_step: {folder / '__init__.py'}: line 23: step 'confirm' is shown, but "
        "UnknownStepFlow has no async_step_confirm to receive it"
    ]


def test_a_step_that_is_not_async(capsys: pytest.CaptureFixture[str]) -> None:
    folder = ON_DISK / "sync_step"
    code, lines = run(folder, capsys)
    assert code == 1
    assert lines == [
        f"sync_step: {folder / '__init__.py'}: import failed: FlowDefinitionError: "
        "SyncStepFlow.async_step_user must be an async def (the hub skips it: import_failed)"
    ]


def test_a_requirement_that_is_not_installed(
    gauge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = gauge / "manifest.yaml"
    with manifest.open("a") as file:
        file.write("requirements:\n  - hub-no-such-package>=1.0\n")
    code, lines = run(gauge, capsys)
    assert code == 1
    assert lines == [
        f"gauge: {manifest}: requirement 'hub-no-such-package>=1.0' is not installed here, so "
        "the integration cannot import it (the hub never installs packages)"
    ]


def test_a_descriptor_that_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    folder = ON_DISK / "odd_descriptor"
    code, lines = run(folder, capsys)
    assert code == 1
    where = f"odd_descriptor: {folder / '__init__.py'}: entity_types()['gauge']"
    assert lines == [
        f"{where} is a dict, not an EntityStateTypeDescriptor",
        f"{where} is not JSON-serializable (Object of type set is not JSON serializable)",
    ]


def test_every_mistake_of_a_folder_of_integrations_is_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = run(ON_DISK, capsys)
    assert code == 1
    assert [line.split(":", 1)[0] for line in lines] == [
        "odd_descriptor",
        "odd_descriptor",
        "sync_step",
        "unknown_step",
    ]


def test_a_folder_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert run(missing, capsys) == (1, [f"nowhere: {missing}: not a folder"])
