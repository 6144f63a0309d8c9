"""Fast completion of root-field results: the compiled dicts become the response in one walk.

Every read root field is already answered by ONE Cypher statement whose result has the exact
shape of the selection (see `graph/query/compiler.py`). graphql-core would still call a resolver,
build a `GraphQLResolveInfo` and run its completion machinery for every field of every object:
for a page of 100 images with genes and phenotypes that is thousands of Python calls and most of
the request's time (docs/benchmarks.md). Here the root field's resolver runs as usual (compile,
cost, embargo, one statement), then its value is completed by a plain recursive walk over the
(memoised) collected sub-fields.

The walk only knows fields whose resolution is data access: attributes, the compiler's
relation keys (`@relation`), connections (`@connection`), key/value JSON (`@key_values`). On
anything else — an unmarked resolver, a null for a non-null field, a value its type refuses, a
missing `__typename`, `@defer` — it gives up and the standard executor completes the same value,
so answers and errors are exactly graphql-core's; only the time differs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLString,
    GraphQLID,
    GraphQLBoolean,
    GraphQLInt,
    OperationType,
    is_abstract_type,
)
from graphql.execution.values import get_argument_values
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

# how a marked resolver's value is read; see `shape()` and api/types.py
SHAPE_ATTR = "__hub_shape__"
RELATION, CONNECTION, KEY_VALUES = "relation", "connection", "key_values"

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_PASS_THROUGH_STR = (GraphQLString, GraphQLID)


class _GiveUp(Exception):
    """The fast walk cannot complete this value exactly; the standard executor will."""


def shape(kind: str, source_key: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a resolver whose value is plain data access, so the fast walk may read it directly.

    `relation`: the compiler's value under the field's response key; `connection`: the same,
    turned into a Relay connection; `key_values`: the JSON object stored under `source_key`.
    A marked resolver must do exactly that (tests/api/test_execution.py checks every one).
    """

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, SHAPE_ATTR, (kind, source_key))
        return fn

    return mark


class FastCompletion(StrawberryGraphQLCoreExecutionContext):
    """graphql-core executor whose root-field values of queries are completed by `_complete`."""

    def complete_value(self, return_type, field_details_list, info, path, result, position_context):  # type: ignore[no-untyped-def,override]
        if path.prev is None and self.operation.operation == OperationType.QUERY and not isinstance(result, Exception):
            try:
                return self._complete(return_type, field_details_list, info, result)
            except _GiveUp:
                pass
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    # ------------------------------------------------------------------ the walk

    def _complete(self, return_type: Any, details: Any, info: GraphQLResolveInfo, value: Any) -> Any:
        if isinstance(return_type, GraphQLNonNull):
            completed = self._complete(return_type.of_type, details, info, value)
            if completed is None:
                raise _GiveUp  # graphql-core reports the null and bubbles it up
            return completed
        if value is None:
            return None
        if isinstance(return_type, GraphQLList):
            if not isinstance(value, (list, tuple)):
                raise _GiveUp
            item_type = return_type.of_type
            return [self._complete(item_type, details, info, item) for item in value]
        if isinstance(return_type, (GraphQLScalarType, GraphQLEnumType)):
            return _leaf(return_type, value)
        if is_abstract_type(return_type):
            runtime = self.schema.get_type(value.get("__typename")) if isinstance(value, dict) else None
            if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(return_type, runtime):
                raise _GiveUp
            return_type = runtime
        return self._object(return_type, details, info, value)

    def _object(self, object_type: GraphQLObjectType, details: Any, info: GraphQLResolveInfo, value: Any) -> dict[str, Any]:
        if object_type.is_type_of is not None:
            # the compiler tags every graph object; a matching tag is what `_FromGraph.is_type_of` checks
            tagged = isinstance(value, dict) and value.get("__typename") == object_type.name
            if not tagged and not object_type.is_type_of(value, info):
                raise _GiveUp
        grouped, new_defer_usages, _forbidden = self.collect_subfields(object_type, details)
        if new_defer_usages:
            raise _GiveUp
        out: dict[str, Any] = {}
        for key, sub_details in grouped.items():
            node = sub_details[0].node
            name = node.name.value
            if name == "__typename":
                out[key] = object_type.name
                continue
            kind, field_def, extra = _field_plan(object_type, name)
            if kind == "attr":
                raw = value.get(extra) if isinstance(value, dict) else getattr(value, extra, None)
            elif kind == RELATION:
                raw = value.get(key)
            elif kind == CONNECTION:
                args = get_argument_values(field_def, node, self.variable_values) if node.arguments else {}
                raw = extra(value.get(key), args.get("after"))
            elif kind == KEY_VALUES:
                read, source_key = extra
                raw = read(value.get(source_key))
            else:
                raise _GiveUp
            out[key] = self._complete(field_def.type, sub_details, info, raw)
        return out


@functools.cache
def _field_plan(object_type: GraphQLObjectType, name: str) -> tuple[str, Any, Any]:
    """How the walk reads `object_type.name`: once per field per process (the schema is fixed).
    `extra` is the attribute name, `make_connection`, or (`key_values`, the JSON's key)."""
    from bioimage_hub.api.types import key_values, make_connection  # types imports `shape` from here

    field_def = object_type.fields.get(name)
    if field_def is None:
        return ("give_up", None, None)
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is None or getattr(definition, "permission_classes", None) or getattr(definition, "extensions", None):
        return ("give_up", field_def, None)
    resolver = getattr(definition, "base_resolver", None)
    if resolver is None:
        return ("attr", field_def, definition.python_name)
    marked = getattr(getattr(resolver, "wrapped_func", None), SHAPE_ATTR, None)
    if marked is None:
        return ("give_up", field_def, None)
    kind, source_key = marked
    if kind == CONNECTION:
        return (kind, field_def, make_connection)
    if kind == KEY_VALUES:
        return (kind, field_def, (key_values, source_key))
    return (kind, field_def, None)


def _leaf(scalar: GraphQLScalarType | GraphQLEnumType, value: Any) -> Any:
    # the common scalar cases without a call; everything else (enums too) as graphql-core coerces it
    cls = type(value)
    if cls is str and scalar in _PASS_THROUGH_STR:
        return value
    if cls is bool and scalar is GraphQLBoolean:
        return value
    if cls is int and scalar is GraphQLInt and _INT_MIN <= value <= _INT_MAX:
        return value
    try:
        coerced = scalar.coerce_output_value(value)
    except (GraphQLError, TypeError, ValueError) as exc:
        raise _GiveUp from exc
    if coerced is None:
        raise _GiveUp
    return coerced


__all__ = ["CONNECTION", "KEY_VALUES", "RELATION", "FastCompletion", "shape"]
