"""Entity contracts as an integration author meets them: built from the specification's examples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pytest
from pydantic import ValidationError

from hub.integrations.entities import (
    DeviceInfo,
    EntityStateActionDescriptor,
    EntityStateActionResult,
    EntityStateRecord,
    EntityStateSyncResult,
    EntityStateTypeDescriptor,
    EventTypeDescriptor,
    RelationTypeDescriptor,
)
from hub.integrations.manifest import FieldDescriptor

SET_VALUE = EntityStateActionDescriptor(
    name="set_value",
    label="Set value",
    fields=(FieldDescriptor(name="value", label="Value", type="number"),),
)

PROJECT = EntityStateTypeDescriptor(key="project", name="Project", world_kind="project")

WORK_PACKAGE = EntityStateTypeDescriptor(
    key="work_package",
    name="Work package",
    attributes=(
        FieldDescriptor(name="subject", label="Subject"),
        FieldDescriptor(name="status", label="Status"),
        FieldDescriptor(name="due_date", label="Due date", type="date", required=False),
    ),
    rag=True,
    device_class="task",
    world_kind="task",
)


def _signal_text(record: EntityStateRecord) -> str:
    return f"{record.attributes.get('sender')}: {record.attributes.get('body')}"


SIGNAL_MESSAGE = EntityStateTypeDescriptor(
    key="signal_message", name="Signal message", rag=True, to_text=_signal_text, message=True
)


def work_package(**changes: Any) -> EntityStateRecord:
    fields: dict[str, Any] = {
        "entity_type": "work_package",
        "external_id": "42",
        "name": "Fix the boiler",
        "state": "in_progress",
        "attributes": {"subject": "Fix the boiler", "status": "In progress", "due_date": None},
        "parent_type": "project",
        "parent_external_id": "7",
    }
    return EntityStateRecord(**(fields | changes))


# Entity types and actions


def test_openproject_declares_its_types_as_the_specification_does() -> None:
    types = {"project": PROJECT, "work_package": WORK_PACKAGE}
    assert (types["work_package"].rag, types["work_package"].world_kind) == (True, "task")
    assert (types["project"].rag, types["project"].world_kind) == (False, "project")
    # The defaults an author relies on when leaving fields out.
    defaults = PROJECT.model_dump(exclude={"key", "name", "world_kind"})
    assert defaults == {
        "attributes": (),
        "rag": False,
        "category": None,
        "visible_default": True,
        "device_class": None,
        "state_class": None,
        "unit": None,
        "actions": (),
        "message": False,
        "translation_key": None,
    }
    assert PROJECT.to_text is None
    assert PROJECT.text_key == "project"  # its words: "entity.project" in the translations


def test_a_descriptor_serializes_to_json_without_its_to_text_callable() -> None:
    dumped = SIGNAL_MESSAGE.model_dump(mode="json")
    assert "to_text" not in dumped
    assert (dumped["message"], dumped["rag"]) == (True, True)
    json.dumps(dumped)  # the web UI and storage receive plain JSON
    assert json.loads(WORK_PACKAGE.model_dump_json())["attributes"][2]["type"] == "date"


def test_to_text_renders_the_embedded_text_and_the_default_shows_name_state_and_attributes() -> (
    None
):
    message = EntityStateRecord(
        entity_type="signal_message",
        external_id="m1",
        name="Message from Ada",
        attributes={"sender": "Ada", "body": "On my way"},
    )
    assert SIGNAL_MESSAGE.render_text(message) == "Ada: On my way"
    text = WORK_PACKAGE.render_text(work_package(attributes={"status": "Open", "tags": ["a"]}))
    assert text == 'Fix the boiler\nstate: in_progress\nstatus: Open\ntags: ["a"]'


def test_an_action_is_declared_with_its_argument_fields() -> None:
    helper = EntityStateTypeDescriptor(
        key="input_number",
        name="Number",
        state_class="measurement",
        unit="°C",
        actions=(SET_VALUE,),
    )
    assert helper.action("set_value") == SET_VALUE
    assert helper.action("delete") is None  # undeclared actions are never dispatched
    assert SET_VALUE.fields[0].type == "number"
    assert EntityStateActionDescriptor(name="press", label="Press").fields == ()


def test_an_entity_type_refuses_ambiguous_or_misspelt_declarations() -> None:
    with pytest.raises(ValidationError, match="action 'set_value' appears twice"):
        EntityStateTypeDescriptor(key="helper", name="Helper", actions=(SET_VALUE, SET_VALUE))
    with pytest.raises(ValidationError, match="'Work Package' is not a valid entity type key"):
        EntityStateTypeDescriptor(key="Work Package", name="Work package")
    with pytest.raises(ValidationError, match="category"):
        EntityStateTypeDescriptor(key="x", name="X", category="hidden")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="state_class"):
        EntityStateTypeDescriptor(key="x", name="X", state_class="sum")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="world_knd"):
        EntityStateTypeDescriptor(key="x", name="X", world_knd="task")  # type: ignore[call-arg]


# Records and their content hash


def test_a_record_carries_its_parent_and_device() -> None:
    record = work_package(device=DeviceInfo(identifier="boiler-1", name="Boiler", model="X2"))
    assert (record.parent_type, record.parent_external_id) == ("project", "7")
    assert record.device == DeviceInfo(identifier="boiler-1", name="Boiler", model="X2")
    bare = EntityStateRecord(entity_type="project", external_id="7", name="Home")
    assert (bare.state, bare.attributes, bare.device) == (None, {}, None)


def test_a_parent_needs_both_its_type_and_its_id() -> None:
    with pytest.raises(ValidationError, match="parent_type and parent_external_id"):
        work_package(parent_external_id=None)


def test_content_hash_ignores_key_order_and_is_equal_for_equal_content() -> None:
    a = work_package(attributes={"subject": "s", "meta": {"x": 1, "y": [1, 2]}})
    b = work_package(attributes={"meta": {"y": (1, 2), "x": 1}, "subject": "s"})
    assert a.content_hash() == b.content_hash()
    assert re.fullmatch("[0-9a-f]{64}", a.content_hash())


@pytest.mark.parametrize(
    "change",
    [
        {"state": "done"},
        {"state": None},
        {"name": "Fix the heater"},
        {"attributes": {"subject": "Fix the boiler", "status": "Closed", "due_date": None}},
        {"attributes": {"subject": "Fix the boiler", "status": "In progress"}},
        {"parent_type": "version", "parent_external_id": "7"},
        {"parent_external_id": "8"},
        {"device": DeviceInfo(identifier="boiler-1")},
    ],
)
def test_content_hash_changes_when_the_content_does(change: dict[str, Any]) -> None:
    assert work_package(**change).content_hash() != work_package().content_hash()


def test_content_hash_changes_when_the_device_changes() -> None:
    one = work_package(device=DeviceInfo(identifier="boiler-1", sw_version="1.0"))
    two = work_package(device=DeviceInfo(identifier="boiler-1", sw_version="1.1"))
    assert one.content_hash() != two.content_hash()


def test_content_hash_tells_a_number_from_its_text() -> None:
    assert work_package(state=21).content_hash() != work_package(state="21").content_hash()


KITCHEN: dict[str, Any] = {
    "entity_type": "sensor",
    "external_id": "t1",
    "name": "Küche",
    "state": 21.5,
    "attributes": {"z": {"b": 1, "a": [True, None]}, "unit": "°C", "m": {"y": 2.25, "x": 1}},
    "device": {"identifier": "hub-1", "manufacturer": "Acme"},
}
_HASH_SCRIPT = (
    "import json, sys\n"
    "from hub.integrations.entities import EntityStateRecord\n"
    "print(EntityStateRecord(**json.loads(sys.argv[1])).content_hash())\n"
)


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(value)}
    return value


def test_content_hash_is_the_same_in_another_process() -> None:
    here = EntityStateRecord(**KITCHEN).content_hash()
    for seed, record in (("1", KITCHEN), ("2", _reversed_keys(KITCHEN))):
        result = subprocess.run(
            [sys.executable, "-c", _HASH_SCRIPT, json.dumps(record)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env=os.environ | {"PYTHONHASHSEED": seed},
        )
        assert result.stdout.strip() == here
    # Pinned: a change to the hash format would mark every stored entity updated after an upgrade.
    assert here == "e425a3c5e353b1c7aa9a41f524cf6d1f49452a6a84d2612e52079a5887eb0a66"


def test_an_attribute_that_is_not_json_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError, match="attribute 'due' is a datetime"):
        work_package(attributes={"due": datetime(2025, 1, 1, tzinfo=UTC)})
    with pytest.raises(ValidationError, match=r"attribute 'meta'\['tags'\]\[1\] is a set"):
        work_package(attributes={"meta": {"tags": ["a", {"b"}]}})
    with pytest.raises(ValidationError, match="attribute 'ratio' is nan"):
        work_package(attributes={"ratio": float("nan")})
    with pytest.raises(ValidationError, match="attribute 'counts' has the key 1"):
        work_package(attributes={"counts": {1: "one"}})


def test_attributes_are_plain_json_copies_of_what_the_author_passed() -> None:
    class Status(StrEnum):
        OPEN = "open"

    source: dict[str, Any] = {"status": Status.OPEN, "tags": ("a", "b")}
    record = work_package(attributes=source)
    before = record.content_hash()
    source["tags"] = ["changed"]
    assert record.attributes == {"status": "open", "tags": ["a", "b"]}
    assert type(record.attributes["status"]) is str
    assert record.content_hash() == before


def test_state_is_a_json_scalar_kept_as_given() -> None:
    assert work_package(state=True).state is True
    assert work_package(state=21.5).state == 21.5
    assert work_package(state="21").state == "21"
    with pytest.raises(
        ValidationError, match="state must be a str, number, bool or None, not list"
    ):
        work_package(state=["on"])


def test_a_record_is_frozen() -> None:
    record = work_package()
    with pytest.raises(ValidationError, match="frozen"):
        record.state = "done"


# Sync and action results


def test_a_full_sync_may_only_hold_records_of_its_entity_types() -> None:
    project = EntityStateRecord(entity_type="project", external_id="7", name="Home")
    result = EntityStateSyncResult(
        # A list from a comprehension is the natural thing to pass; it is kept as a tuple.
        records=[project, work_package()],  # type: ignore[arg-type]
        full=True,
        entity_types=("project", "work_package"),
    )
    assert result.records == (project, work_package())
    with pytest.raises(ValidationError, match=r"holds records of \['work_package'\]"):
        EntityStateSyncResult(records=(project, work_package()), entity_types=("project",))
    partial = EntityStateSyncResult(
        records=(work_package(),), full=False, entity_types=("project",)
    )
    assert partial.full is False


def test_covered_types_default_to_the_types_in_the_records() -> None:
    project = EntityStateRecord(entity_type="project", external_id="7", name="Home")
    derived = EntityStateSyncResult(records=(work_package(), project, work_package()))
    assert derived.full is True
    assert derived.covered_types == ("work_package", "project")
    # Naming a type that has no records left is how its last entities get deleted.
    emptied = EntityStateSyncResult(records=(), entity_types=("project", "work_package"))
    assert emptied.covered_types == ("project", "work_package")


def test_an_action_result_carries_updated_records_and_a_note() -> None:
    updated = work_package(state="done")
    result = EntityStateActionResult(records=(updated,), message="Done.")
    assert result.records[0].state == "done"
    assert result.message == "Done."
    assert EntityStateActionResult() == EntityStateActionResult(records=(), message=None)


# Events and relations


def test_openproject_declares_its_overdue_event() -> None:
    events = {
        "openproject.wp_overdue": EventTypeDescriptor(
            event_type="openproject.wp_overdue",
            name="Work package overdue",
            payload_schema=(
                FieldDescriptor(name="work_package_id", label="Work package"),
                FieldDescriptor(name="due_date", label="Due date", type="date"),
            ),
        )
    }
    overdue = events["openproject.wp_overdue"]
    assert overdue.description is None
    assert [field.name for field in overdue.payload_schema] == ["work_package_id", "due_date"]
    json.dumps(overdue.model_dump(mode="json"))
    with pytest.raises(ValidationError, match="event_type"):
        EventTypeDescriptor(event_type="wp overdue", name="Overdue")


def test_a_relation_key_is_namespaced_by_its_domain() -> None:
    reviewed = RelationTypeDescriptor(key="github:reviewed_by", name="Reviewed by")
    assert (reviewed.domain, reviewed.predicate) == ("github", "reviewed_by")
    assert (reviewed.is_transitive, reviewed.is_symmetric) == (False, False)
    assert reviewed.description is None


@pytest.mark.parametrize(
    "key", ["reviewed_by", "github:", ":reviewed_by", "GitHub:reviewed_by", "a:b:c", "git hub:x"]
)
def test_a_relation_key_outside_the_namespace_rule_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="domain:predicate"):
        RelationTypeDescriptor(key=key, name="Relation")


def test_the_contracts_do_not_pull_in_heavy_libraries() -> None:
    """pydantic-ai and httpx cost a Pi seconds at start-up; integrations import these modules early."""
    code = (
        "import sys, hub.integrations.entities, hub.integrations.capabilities\n"
        "print(','.join(m for m in ('pydantic_ai', 'httpx') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
