"""JMESPath expressions turned into Python closures, once, instead of walked per delivery.

``jmespath``'s own ``search`` builds an interpreter per call and walks the expression's tree by
looking up a method per node: on a GitHub push, the preset's fourteen expressions cost 84 µs that
way. The closures here do what ``jmespath.visitor.TreeInterpreter`` does, node type for node
type (its rules are mirrored one by one below, including JMESPath's own truthiness), so an
expression means exactly what the library says it means; functions are the library's, called
as it calls them. A node type this module does not know is handed to the library's interpreter.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from numbers import Number
from typing import TYPE_CHECKING, Any, Final, cast

if TYPE_CHECKING:
    from jmespath.functions import Functions
    from jmespath.visitor import TreeInterpreter

Node = Mapping[str, Any]


class Scope:
    """What one search needs besides its data: the functions (with the request's headers), and
    the library's interpreter, made only for the rare node that needs it."""

    __slots__ = ("_interpreter", "functions")

    def __init__(self, functions: Functions) -> None:
        self.functions = functions
        self._interpreter: TreeInterpreter | None = None

    @property
    def interpreter(self) -> TreeInterpreter:
        """The library's interpreter with the same functions (for ``&expression`` arguments)."""
        if self._interpreter is None:
            from jmespath import Options
            from jmespath.visitor import TreeInterpreter

            self._interpreter = TreeInterpreter(Options(custom_functions=self.functions))
        return self._interpreter


Compiled = Callable[[Any, Scope], Any]
"""A compiled expression: ``(data, scope) -> result``."""


def compile_tree(node: Node) -> Compiled:
    """``node`` (a ``jmespath.compile(...).parsed`` tree) as a closure."""
    make = _MAKERS.get(node["type"])
    return make(node) if make is not None else _by_interpreter(node)


def _is_false(value: Any) -> bool:
    # As TreeInterpreter._is_false: equality, not Python's truth (0 is true in JMESPath).
    return value == "" or value == [] or value == {} or value is None or value is False


def _chain(node: Node) -> Compiled:
    # subexpression, index_expression and pipe: each child runs on the last one's result.
    steps = [compile_tree(child) for child in node["children"]]
    if len(steps) == 2:
        first, second = steps

        def run_two(value: Any, scope: Scope) -> Any:
            return second(first(value, scope), scope)

        return run_two

    def run(value: Any, scope: Scope) -> Any:
        for step in steps:
            value = step(value, scope)
        return value

    return run


def _field(node: Node) -> Compiled:
    name = node["value"]

    def run(value: Any, scope: Scope) -> Any:
        try:
            return value.get(name)
        except AttributeError:
            return None

    return run


def _is_actual_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, Number)


def _equals(x: Any, y: Any) -> bool:
    # 0 and 1 are not false and true: ``0 == `false``` is false in JMESPath.
    if _is_actual_number(x) and x in (0, 1):
        return not isinstance(y, bool) and bool(x == y)
    if _is_actual_number(y) and y in (0, 1):
        return not isinstance(x, bool) and bool(x == y)
    return bool(x == y)


def _is_comparable(value: Any) -> bool:
    return _is_actual_number(value) or isinstance(value, str)


_COMPARE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "eq": _equals,
    "ne": lambda x, y: not _equals(x, y),
    "lt": operator.lt,
    "gt": operator.gt,
    "lte": operator.le,
    "gte": operator.ge,
}


def _comparator(node: Node) -> Compiled:
    op = node["value"]
    compare = _COMPARE[op]
    left, right = (compile_tree(child) for child in node["children"])
    if op in ("eq", "ne"):

        def equality(value: Any, scope: Scope) -> Any:
            return compare(left(value, scope), right(value, scope))

        return equality

    def ordering(value: Any, scope: Scope) -> Any:
        # Ordering is only defined for numbers; anything else compares to null.
        a, b = left(value, scope), right(value, scope)
        if not (_is_comparable(a) and _is_comparable(b)):  # numbers, and strings
            return None
        return compare(a, b)

    return ordering


def _itself(node: Node) -> Compiled:
    # current (@) and identity.
    def run(value: Any, scope: Scope) -> Any:
        return value

    return run


def _expref(node: Node) -> Compiled:
    from jmespath.visitor import _Expression

    child = node["children"][0]

    def run(value: Any, scope: Scope) -> Any:
        return _Expression(child, scope.interpreter)

    return run


def _function(node: Node) -> Compiled:
    name = node["value"]
    arguments = [compile_tree(child) for child in node["children"]]

    def run(value: Any, scope: Scope) -> Any:
        return scope.functions.call_function(name, [arg(value, scope) for arg in arguments])

    return run


def _filter_projection(node: Node) -> Compiled:
    base, then, condition = (compile_tree(child) for child in node["children"])

    def run(value: Any, scope: Scope) -> Any:
        items = base(value, scope)
        if not isinstance(items, list):
            return None
        collected = []
        for element in items:
            if not _is_false(condition(element, scope)):
                current = then(element, scope)
                if current is not None:
                    collected.append(current)
        return collected

    return run


def _flatten(node: Node) -> Compiled:
    base = compile_tree(node["children"][0])

    def run(value: Any, scope: Scope) -> Any:
        items = base(value, scope)
        if not isinstance(items, list):
            return None
        merged: list[Any] = []
        for element in items:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    return run


def _index(node: Node) -> Compiled:
    position = node["value"]

    def run(value: Any, scope: Scope) -> Any:
        if not isinstance(value, list):  # strings are not indexed
            return None
        try:
            return value[position]
        except IndexError:
            return None

    return run


def _slice(node: Node) -> Compiled:
    cut = slice(*node["children"])

    def run(value: Any, scope: Scope) -> Any:
        return value[cut] if isinstance(value, list) else None

    return run


def _key_val_pair(node: Node) -> Compiled:
    return compile_tree(node["children"][0])


def _literal(node: Node) -> Compiled:
    constant = node["value"]

    def run(value: Any, scope: Scope) -> Any:
        return constant

    return run


def _multi_select_dict(node: Node) -> Compiled:
    pairs = [(child["value"], compile_tree(child)) for child in node["children"]]

    def run(value: Any, scope: Scope) -> Any:
        if value is None:
            return None
        return {key: pick(value, scope) for key, pick in pairs}

    return run


def _multi_select_list(node: Node) -> Compiled:
    picks = [compile_tree(child) for child in node["children"]]

    def run(value: Any, scope: Scope) -> Any:
        if value is None:
            return None
        return [pick(value, scope) for pick in picks]

    return run


def _or(node: Node) -> Compiled:
    alternatives = _flattened(node, "or_expression")

    def run(value: Any, scope: Scope) -> Any:
        # ``a || b || c`` parses as ``(a || b) || c``: the first that is not false, else the last.
        for alternative in alternatives:
            matched = alternative(value, scope)
            if not _is_false(matched):
                return matched
        return matched

    return run


def _flattened(node: Node, kind: str) -> Sequence[Compiled]:
    """A left-leaning chain of ``kind`` nodes as its operands in order."""
    operands: list[Node] = []
    while node["type"] == kind:
        operands.append(node["children"][1])
        node = node["children"][0]
    operands.append(node)
    return [compile_tree(child) for child in reversed(operands)]


def _and(node: Node) -> Compiled:
    left, right = (compile_tree(child) for child in node["children"])

    def run(value: Any, scope: Scope) -> Any:
        matched = left(value, scope)
        if _is_false(matched):
            return matched
        return right(value, scope)

    return run


def _not(node: Node) -> Compiled:
    operand = compile_tree(node["children"][0])

    def run(value: Any, scope: Scope) -> Any:
        original = operand(value, scope)
        if _is_actual_number(original) and original == 0:
            return False  # !0 is false: 0 is not special in JMESPath
        return not original

    return run


def _projection(node: Node) -> Compiled:
    base, then = (compile_tree(child) for child in node["children"])

    def run(value: Any, scope: Scope) -> Any:
        items = base(value, scope)
        return _each(then, items, scope) if isinstance(items, list) else None

    return run


def _each(then: Compiled, items: Iterable[Any], scope: Scope) -> list[Any]:
    """``then`` of each item, the nulls left out (a projection's rule)."""
    return [found for item in items if (found := then(item, scope)) is not None]


def _value_projection(node: Node) -> Compiled:
    base, then = (compile_tree(child) for child in node["children"])

    def run(value: Any, scope: Scope) -> Any:
        items = base(value, scope)
        try:
            items = items.values()
        except AttributeError:
            return None
        return _each(then, items, scope)

    return run


def _by_interpreter(node: Node) -> Compiled:
    def run(value: Any, scope: Scope) -> Any:
        return scope.interpreter.visit(cast("Any", node), value)

    return run


_MAKERS: Final[dict[str, Callable[[Node], Compiled]]] = {
    "subexpression": _chain,
    "index_expression": _chain,
    "pipe": _chain,
    "field": _field,
    "comparator": _comparator,
    "current": _itself,
    "identity": _itself,
    "expref": _expref,
    "function_expression": _function,
    "filter_projection": _filter_projection,
    "flatten": _flatten,
    "index": _index,
    "slice": _slice,
    "key_val_pair": _key_val_pair,
    "literal": _literal,
    "multi_select_dict": _multi_select_dict,
    "multi_select_list": _multi_select_list,
    "or_expression": _or,
    "and_expression": _and,
    "not_expression": _not,
    "projection": _projection,
    "value_projection": _value_projection,
}
