"""The loader, one folder per rule of the specification's discovery steps."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hub.integrations.config_flow import ConfigFlow
from hub.integrations.loader import NAMESPACE, Discovery, SkipReason, discover
from tests.integrations.helpers import PLAIN_INIT, make_integration


def skipped(result: Discovery) -> dict[str, tuple[SkipReason, str]]:
    return {s.path.name: (s.reason, s.message) for s in result.skipped}


def loaded(result: Discovery) -> list[str]:
    return [item.domain for item in result.loaded]


def test_a_good_integration_loads_and_gets_its_manifest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = make_integration(tmp_path, "lamp", version="1.2.0", iot_class="local_polling")
    result = discover(tmp_path)
    assert loaded(result) == ["lamp"]
    item = result.loaded[0]
    assert item.integration.manifest.version == "1.2.0"
    assert item.integration.domain == "lamp"
    assert item.integration.config_flow_cls is None
    assert item.source == "bundled"
    assert item.path == folder
    warnings = [r for r in caplog.records if "integration_loaded_full_trust" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
    assert "lamp" in warnings[0].getMessage()
    assert str(folder) in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ("domain: broken\nname: [unclosed\n", "line"),
        ("domain: broken\nname: Broken\nintegraton_type: tool\n", "integraton_type"),
        ("domain: broken\nname: Broken\nrequired_tier: internl\n", "required_tier"),
        ("domain: broken\nname: Broken\nquality_scale: shiny\n", "quality_scale"),
        ("- not\n- a mapping\n", "mapping"),
    ],
)
def test_a_bad_manifest_is_skipped_with_file_and_key_while_others_load(
    tmp_path: Path, manifest: str, expected: str
) -> None:
    make_integration(tmp_path, "broken", manifest=manifest)
    make_integration(tmp_path, "fine")
    result = discover(tmp_path)
    assert loaded(result) == ["fine"]
    reason, message = skipped(result)["broken"]
    assert reason == SkipReason.MANIFEST_INVALID
    assert str(tmp_path / "broken" / "manifest.yaml") in message
    assert expected in message


def test_folder_name_must_equal_domain(tmp_path: Path) -> None:
    make_integration(tmp_path, "folder_name", manifest={"domain": "other_name"})
    result = discover(tmp_path)
    assert loaded(result) == []
    reason, message = skipped(result)["folder_name"]
    assert reason == SkipReason.DOMAIN_MISMATCH
    assert reason.value == "integration_domain_mismatch"
    assert "'other_name'" in message


def test_missing_or_wrong_integration_object(tmp_path: Path) -> None:
    make_integration(tmp_path, "no_object", init="VALUE = 1\n")
    make_integration(tmp_path, "wrong_object", init="INTEGRATION = object()\n")
    make_integration(tmp_path, "no_init", init=None)
    make_integration(tmp_path, "a_class", init=PLAIN_CLASS_NOT_INSTANCE)
    (tmp_path / "no_manifest").mkdir()
    result = discover(tmp_path)
    assert loaded(result) == []
    reasons = {name: reason for name, (reason, _) in skipped(result).items()}
    assert reasons == {
        "no_object": SkipReason.INTEGRATION_MISSING,
        "wrong_object": SkipReason.INTEGRATION_INVALID,
        "no_init": SkipReason.INTEGRATION_MISSING,
        "a_class": SkipReason.INTEGRATION_INVALID,
        "no_manifest": SkipReason.MANIFEST_MISSING,
    }
    assert f"{NAMESPACE}.no_object" not in sys.modules


PLAIN_CLASS_NOT_INSTANCE = """
from hub.integrations.integration import Integration


class INTEGRATION(Integration):
    pass
"""


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
        ("def broken(:\n", "SyntaxError"),
        ("import a_module_that_does_not_exist_anywhere\n", "ModuleNotFoundError"),
        ("import sys\nsys.exit(3)\n", "SystemExit"),
    ],
)
def test_an_import_failure_is_skipped_and_boot_continues(
    tmp_path: Path, init: str, expected: str
) -> None:
    make_integration(tmp_path, "explodes", init=init, files={"helper.py": "X = 1\n"})
    make_integration(tmp_path, "fine")
    result = discover(tmp_path)
    assert loaded(result) == ["fine"]
    reason, message = skipped(result)["explodes"]
    assert reason == SkipReason.IMPORT_FAILED
    assert expected in message
    assert not [m for m in sys.modules if m.startswith(f"{NAMESPACE}.explodes")]


def test_missing_requirements_are_warned_never_installed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_integration(
        tmp_path,
        "needs_things",
        requirements=["PyYAML>=6", "surely-not-installed-pkg==1.0"],
    )
    result = discover(tmp_path)
    assert loaded(result) == ["needs_things"]
    assert result.loaded[0].missing_requirements == ("surely-not-installed-pkg==1.0",)
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("surely-not-installed-pkg==1.0, which is not installed" in m for m in messages)
    assert not any("PyYAML" in m for m in messages)


def test_dependencies_order_and_drop_transitively(tmp_path: Path) -> None:
    make_integration(tmp_path, "base")
    make_integration(tmp_path, "middle", dependencies=["base"])
    make_integration(tmp_path, "app", dependencies=["middle"])
    make_integration(tmp_path, "orphan", dependencies=["not_installed"])
    make_integration(tmp_path, "orphan_child", dependencies=["orphan"])
    make_integration(tmp_path, "orphan_grandchild", dependencies=["orphan_child"])
    make_integration(tmp_path, "loop_a", dependencies=["loop_b"])
    make_integration(tmp_path, "loop_b", dependencies=["loop_a"])
    make_integration(tmp_path, "needs_loop", dependencies=["loop_a"])
    result = discover(tmp_path)
    assert loaded(result) == ["base", "middle", "app"]
    problems = skipped(result)
    assert problems["orphan"] == (
        SkipReason.DEPENDENCY_MISSING,
        "depends on not_installed, which is not installed",
    )
    assert problems["orphan_child"][0] == SkipReason.DEPENDENCY_MISSING
    assert "orphan, which was not loaded" in problems["orphan_child"][1]
    assert problems["orphan_grandchild"][0] == SkipReason.DEPENDENCY_MISSING
    assert problems["loop_a"] == (
        SkipReason.DEPENDENCY_CYCLE,
        "dependency cycle: loop_a → loop_b → loop_a",
    )
    assert problems["loop_b"][0] == SkipReason.DEPENDENCY_CYCLE
    assert problems["needs_loop"][0] == SkipReason.DEPENDENCY_MISSING
    assert "dependency cycle" in problems["needs_loop"][1]


def test_a_dependency_that_fails_to_import_drops_its_dependents(tmp_path: Path) -> None:
    make_integration(tmp_path, "base", init="raise ImportError('no driver')\n")
    make_integration(tmp_path, "child", dependencies=["base"])
    result = discover(tmp_path)
    assert loaded(result) == []
    assert skipped(result)["child"] == (
        SkipReason.DEPENDENCY_MISSING,
        "depends on base, which failed to load",
    )


def test_after_dependencies_only_order(tmp_path: Path) -> None:
    make_integration(tmp_path, "alpha", after_dependencies=["zulu", "missing_one"])
    make_integration(tmp_path, "zulu")
    make_integration(tmp_path, "mike", after_dependencies=["november"])
    make_integration(tmp_path, "november", after_dependencies=["mike"])
    make_integration(tmp_path, "oscar", dependencies=["mike"])
    result = discover(tmp_path)
    order = loaded(result)
    assert sorted(order) == ["alpha", "mike", "november", "oscar", "zulu"]
    assert order.index("zulu") < order.index("alpha")
    assert order.index("mike") < order.index("oscar")
    assert order == loaded(discover(tmp_path)), "the same order on every start"


def test_external_dirs_are_scanned_only_when_allowed(tmp_path: Path) -> None:
    bundled, external = tmp_path / "bundled", tmp_path / "external"
    make_integration(bundled, "shared", version="1.0.0")
    make_integration(external, "shared", version="9.9.9")
    make_integration(external, "extra")
    assert loaded(discover(bundled, [external])) == ["shared"]
    result = discover(bundled, [external], allow_external=True)
    assert loaded(result) == ["extra", "shared"]
    by_domain = {item.domain: item for item in result.loaded}
    assert by_domain["extra"].source == "external"
    assert by_domain["shared"].manifest.version == "1.0.0", "the bundled copy wins"
    reason, message = skipped(result)["shared"]
    assert reason == SkipReason.DUPLICATE_DOMAIN
    assert str(bundled / "shared") in message


def test_modules_of_one_integration_import_each_other_relatively(tmp_path: Path) -> None:
    make_integration(
        tmp_path,
        "split",
        init="""
        from hub.integrations.integration import Integration

        from .tools import answer
        from .sub.deep import DEEP


        class Split(Integration):
            value = answer() + DEEP


        INTEGRATION = Split()
        """,
        files={
            "tools.py": "from .constants import BASE\n\ndef answer() -> int:\n    return BASE + 1\n",
            "constants.py": "BASE = 41\n",
            "sub/__init__.py": "",
            "sub/deep.py": "from ..constants import BASE\nDEEP = BASE * 0 + 100\n",
        },
    )
    result = discover(tmp_path)
    assert loaded(result) == ["split"]
    assert result.loaded[0].integration.value == 142  # type: ignore[attr-defined]


def test_an_integration_never_shadows_a_real_package(tmp_path: Path) -> None:
    make_integration(tmp_path, "json", init=PLAIN_INIT_WITH_MARK)
    result = discover(tmp_path)
    assert loaded(result) == ["json"]
    assert sys.modules["json"] is json
    assert hasattr(json, "dumps")
    assert type(result.loaded[0].integration).__module__ == f"{NAMESPACE}.json"


PLAIN_INIT_WITH_MARK = """
from hub.integrations.integration import Integration


class Json(Integration):
    pass


INTEGRATION = Json()
"""

FLOW_MODULE = """
from typing import Any

from hub.integrations.config_flow import ConfigFlow, FlowResult


class Flow(ConfigFlow):
    domain = "{domain}"

    async def async_step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        return self.async_create_entry(title="x", data={{}})
"""


def test_config_flow_is_found_by_attribute_or_module_constant(tmp_path: Path) -> None:
    make_integration(
        tmp_path,
        "by_attribute",
        config_flow=True,
        files={"config_flow.py": FLOW_MODULE.format(domain="by_attribute")},
        init="""
        from hub.integrations.integration import Integration
        from .config_flow import Flow

        class ByAttribute(Integration):
            config_flow_cls = Flow

        INTEGRATION = ByAttribute()
        """,
    )
    make_integration(
        tmp_path,
        "by_constant",
        config_flow=True,
        files={"config_flow.py": FLOW_MODULE.format(domain="by_constant")},
        init="""
        from hub.integrations.integration import Integration
        from .config_flow import Flow as CONFIG_FLOW

        class ByConstant(Integration):
            pass

        INTEGRATION = ByConstant()
        """,
    )
    make_integration(tmp_path, "flowless", config_flow=True)
    make_integration(
        tmp_path,
        "not_a_flow",
        init=PLAIN_INIT + "\nCONFIG_FLOW = dict\n",
    )
    result = discover(tmp_path)
    assert loaded(result) == ["by_attribute", "by_constant"]
    for item in result.loaded:
        flow_cls = item.integration.config_flow_cls
        assert flow_cls is not None
        assert issubclass(flow_cls, ConfigFlow)
        assert flow_cls.domain == item.domain
    assert skipped(result)["flowless"][0] == SkipReason.CONFIG_FLOW_MISSING
    assert skipped(result)["not_a_flow"][0] == SkipReason.INTEGRATION_INVALID


def test_a_missing_dir_is_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = discover(tmp_path / "nope")
    assert result.loaded == []
    assert "does not exist" in caplog.text
