"""The import graph: dependencies point inward, and heavy libraries stay out of start-up."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parent.parent / "hub"

# What each layer may import from the hub; hub/app.py and hub/cli.py wire everything.
ALLOWED = {
    "core": {"hub", "hub.core"},
    "integrations": {"hub", "hub.core", "hub.integrations"},
    "entities": {"hub", "hub.core", "hub.config", "hub.integrations", "hub.entities"},
    "comms": {"hub", "hub.core", "hub.config", "hub.integrations", "hub.entities", "hub.comms"},
    "agent": {"hub", "hub.core", "hub.config", "hub.integrations", "hub.entities", "hub.agent"},
    "auth": {"hub", "hub.core", "hub.config", "hub.integrations", "hub.entities", "hub.auth"},
    "memory": {"hub", "hub.core", "hub.config", "hub.integrations", "hub.entities", "hub.memory"},
    "api": {
        "hub",
        "hub.core",
        "hub.config",
        "hub.integrations",
        "hub.entities",
        "hub.agent",
        "hub.comms",
        "hub.auth",
        "hub.workflows",
        "hub.memory",
        "hub.ops",
        "hub.api",
    },
    "ops": {
        "hub",
        "hub.core",
        "hub.config",
        "hub.integrations",
        "hub.entities",
        "hub.comms",
        "hub.memory",
        "hub.workflows",
        "hub.agent",
        "hub.auth",
        "hub.ops",
    },
    "workflows": {
        "hub",
        "hub.core",
        "hub.config",
        "hub.integrations",
        "hub.entities",
        "hub.agent",
        "hub.comms",
        "hub.auth",
        "hub.workflows",
    },
}


def hub_imports(path: Path) -> set[str]:
    """Every ``hub...`` module a file imports, at any depth (lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("hub"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hub"):
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_only_import_inward(layer: str) -> None:
    allowed = ALLOWED[layer]
    for path in sorted((HUB / layer).rglob("*.py")):
        for module in hub_imports(path):
            parts = module.split(".")
            ok = any(module == a or module.startswith(a + ".") for a in allowed if a != "hub")
            assert ok or parts == ["hub"], f"{path.relative_to(HUB)} imports {module}"


def test_bundled_integrations_import_only_the_public_api() -> None:
    bundled = HUB.parent / "integrations"
    for path in sorted(bundled.rglob("*.py")):
        if "tests" in path.relative_to(bundled).parts[:-1]:
            continue  # a scaffolded integration's own test starts a whole hub; the hub never loads it
        for module in hub_imports(path):
            assert module.startswith("hub.integrations"), f"{path} imports {module}"


def test_config_depends_only_on_core() -> None:
    for module in hub_imports(HUB / "config.py"):
        assert module.startswith("hub.core"), f"config.py imports {module}"


def test_starting_the_hub_does_not_import_heavy_libraries() -> None:
    """pydantic-ai, the openai SDK, httpx, babel and cryptography cost a Pi 0.6 s and 30 MB.

    The bundled integrations are discovered too: they must import their heavy libraries lazily.
    """
    code = (
        "import sys, hub.cli, hub.app\n"
        "from hub.config import SOURCE_ROOT\n"
        "from hub.integrations.loader import discover\n"
        "assert discover(SOURCE_ROOT / 'integrations').loaded\n"
        "heavy = ('pydantic_ai', 'openai', 'httpx', 'babel', 'cryptography', 'hub.agent.chat')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_the_first_model_call_leaves_httpx_command_line_client_unloaded() -> None:
    """httpx imports rich, click and pygments for its CLI whenever they are installed: ~5 MB."""
    cli = ("rich", "click", "pygments")
    code = (
        "import sys, hub.cli\n"
        "{call}"
        "import pydantic_ai.models.openai, httpx\n"
        "httpx.AsyncClient()\n"
        f"print(','.join(m for m in {cli!r} if m in sys.modules))\n"
    )

    def loaded(call: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", code.format(call=call)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return result.stdout.strip()

    assert loaded("hub.cli.without_httpx_cli()\n") == ""
    if all(importlib.util.find_spec(name) for name in cli):  # installed beside the hub, as here
        assert loaded("") == ",".join(cli), "without it httpx loads them: the check can fail"
