"""Compiled JMESPath means what the library means: each expression against every published body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jmespath
import pytest
from jmespath import functions
from jmespath.visitor import TreeInterpreter

from integrations.webhook.jmes import _MAKERS, Scope, compile_tree

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "octokit-webhooks-examples"
BODIES = sorted(EXAMPLES.glob("*.json"))

# Every node type the library's interpreter knows, with its edge cases: JMESPath's truthiness
# (0 is true, "" and [] and {} are false), 0/1 against booleans, orderings of mixed types, negative
# indexes and steps, projections that drop nulls, and functions (with ``&expression`` arguments)
# whose argument types are wrong, which must fail as the library fails.
EXPRESSIONS = [
    "repository.full_name",
    "repository.owner.login",
    "missing.deeper.still",
    "action",
    "commits[0].message",
    "commits[-1].id",
    "commits[5].id",
    "commits[*].id",
    "commits[].author.name",
    "commits[].added[]",
    "[commits, commits][][].id",
    "commits[?distinct].id",
    "commits[?added[0] != null].id",
    "commits[?length(message) > `0`].message",
    "commits[?length(modified) > `0`].message",
    "commits[1:3].id",
    "commits[0:2].id",
    "commits[::-1].id",
    "commits[:1]",
    "[repository.id, sender.login, nothing]",
    "{r: repository.name, s: sender.login, n: nothing}",
    "nothing.{a: b}",
    "nothing.[a]",
    "head_commit.url || issue.html_url || pull_request.html_url || repository.html_url",
    "nothing || ''",
    "'' || `[]` || `{}` || `0`",
    "`0` || 'fallback'",
    "`0` && 'second'",
    "commits[?`0`].id",
    "commits[?''].id",
    "action && repository.private",
    "repository.private && action",
    "!repository.private",
    "!(repository.private)",
    "!`0`",
    "!`[]`",
    "!nothing",
    "repository.size > `100`",
    "repository.size <= sender.id",
    "repository.name < 'z'",
    "repository.name >= `1`",
    "sender.id == `0`",
    "`false` == `0`",
    "`true` != `1`",
    "`1` == `1.0`",
    "repository.owner == sender",
    "join('.', [header('x-github-event'), action][?@ != null])",
    "header('X-GitHub-Event')",
    "length(commits)",
    "sort_by(commits, &timestamp)[].id",
    "max_by(commits, &length(message)).id",
    "map(&id, commits)",
    "repository.*",
    "repository.owner.* | [0]",
    "*.login",
    "commits[].[id, distinct]",
    '`{"a": 1}`',
    "'literal'",
    "@",
    "repository | name",
    "keys(repository) | length(@)",
    "not_null(action, ref, `7`)",
    "to_string(repository.id)",
    "contains(keys(@), 'ref')",
    "starts_with(ref, 'refs/')",
    "abs(`-1`)",
    "merge(repository.owner, {x: `1`})",
    "length(`null`)",
    "sum(commits)",
    "repository.name[0]",
    "repository.topics[0:1]",
]


def _headers() -> Any:
    class HeaderFunctions(functions.Functions):
        @functions.signature({"types": ["string"]})
        def _func_header(self, name: str) -> str | None:
            return {"x-github-event": "push"}.get(name.lower())

    return HeaderFunctions()


# Where these find nothing (null, or an empty list) in every published body, it is the point.
FIND_NOTHING = {
    "missing.deeper.still",
    "commits[5].id",
    "commits[?''].id",
    "commits[?length(modified) > `0`].message",
    "commits[1:3].id",
    "!repository.private",  # (!repository).private
    "nothing.{a: b}",
    "nothing.[a]",
    "repository.name[0]",
    "repository.topics[0:1]",
}


def _outcome(run: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "value", run(*args, **kwargs)
    except Exception as err:  # the library's own errors, and Python's (`'a' < 1`)
        return "error", (type(err).__name__, str(err))


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_a_compiled_expression_finds_what_the_library_finds_in_every_body(
    expression: str,
) -> None:
    parsed = jmespath.compile(expression)
    compiled = compile_tree(parsed.parsed)
    found_something = False
    for path in BODIES:
        body = json.loads(path.read_text())
        options = jmespath.Options(custom_functions=_headers())
        expected = _outcome(parsed.search, body, options=options)
        got = _outcome(compiled, body, Scope(_headers()))
        assert got == expected, f"{expression} on {path.name}"
        # Types as well as values: 1 and true, 0.0 and 0 compare equal in Python.
        assert repr(got) == repr(expected), f"{expression} on {path.name}"
        found_something |= expected[0] == "error" or expected[1] not in (None, [])
    assert found_something != (expression in FIND_NOTHING)


def test_every_node_type_the_library_interprets_is_compiled() -> None:
    # A jmespath release with a new node type would otherwise take the slow path unnoticed.
    interpreted = {
        name[len("visit_") :] for name in dir(TreeInterpreter) if name.startswith("visit_")
    }
    assert interpreted == set(_MAKERS)
