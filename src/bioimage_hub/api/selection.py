"""Turn a GraphQL request's AST under one root field into a plain selection tree.

The query compiler needs exactly what the client asked for: response keys (aliases), coerced
arguments (variables substituted, defaults applied, literals typed — graphql-core does the
coercion against the schema), `@skip`/`@include` honoured, and fragments kept with their type
condition so that an interface field (`node`) can be compiled per concrete type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values, get_directive_values


@dataclass
class Field:
    name: str
    key: str
    args: dict[str, Any]
    condition: str | None = None  # type condition of the fragment this field came from
    children: list["Field"] = field(default_factory=list)

    def for_type(self, type_name: str, interfaces: frozenset[str] = frozenset()) -> list["Field"]:
        """Children that apply to concrete `type_name`, merged by response key."""
        merged: dict[str, Field] = {}
        for child in self.children:
            if child.condition not in (None, type_name) and child.condition not in interfaces:
                continue
            existing = merged.get(child.key)
            if existing is None:
                merged[child.key] = Field(child.name, child.key, child.args, None, list(child.children))
            else:
                existing.children.extend(child.children)
        return list(merged.values())

    def child(self, name: str) -> "Field | None":
        """First child with this field name (for connection parts like pageInfo, totalCount)."""
        return next((c for c in self.children if c.name == name), None)

    def children_named(self, name: str) -> list["Field"]:
        return [c for c in self.children if c.name == name]

    def node_selection(self) -> "Field":
        """For a connection field: what is selected on its nodes, via `nodes` and `edges.node` alike."""
        merged: list[Field] = []
        for nodes in self.children_named("nodes"):
            merged.extend(nodes.children)
        for edges in self.children_named("edges"):
            for node in edges.children_named("node"):
                merged.extend(node.children)
        return Field("node", "node", {}, None, merged)


def _included(node: Any, variables: Any) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include and include.get("if") is False)


def _walk(
    schema: GraphQLSchema,
    parent_type: Any,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, Any],
    variables: Any,
    condition: str | None,
    out: list[Field],
) -> None:
    if selection_set is None:
        return
    for node in selection_set.selections:
        if not _included(node, variables):
            continue
        if isinstance(node, FieldNode):
            name = node.name.value
            key = node.alias.value if node.alias else name
            if name.startswith("__"):
                out.append(Field(name, key, {}, condition))
                continue
            field_def = parent_type.fields[name]
            args = get_argument_values(field_def, node, variables)
            item = Field(name, key, args, condition)
            child_type = get_named_type(field_def.type)
            if isinstance(child_type, (GraphQLObjectType, GraphQLInterfaceType)):
                _walk(schema, child_type, node.selection_set, fragments, variables, None, item.children)
            out.append(item)
        else:
            if isinstance(node, FragmentSpreadNode):
                fragment = fragments[node.name.value]
                type_name = fragment.type_condition.name.value
            else:
                assert isinstance(node, InlineFragmentNode)
                fragment = node
                type_name = node.type_condition.name.value if node.type_condition else None
            target_type = schema.get_type(type_name) if type_name else parent_type
            cond = type_name if type_name and type_name != parent_type.name else condition
            _walk(schema, target_type, fragment.selection_set, fragments, variables, cond, out)


def _variable_values(info: GraphQLResolveInfo) -> Any:
    """graphql-core 3.3 wants its `VariableValues` container; strawberry hands over a dict."""
    values = info.variable_values
    if isinstance(values, dict):
        try:
            from graphql.execution.values import VariableValues
        except ImportError:  # graphql-core 3.2 takes the dict itself
            return values
        return VariableValues(sources={}, coerced=values)
    return values


def root_field(info: GraphQLResolveInfo) -> Field:
    """The selection tree of the root field being resolved (graphql-core's raw info)."""
    node = info.field_nodes[0]
    variables = _variable_values(info)
    field_def = info.parent_type.fields[info.field_name]
    args = get_argument_values(field_def, node, variables)
    key = node.alias.value if node.alias else node.name.value
    root = Field(info.field_name, key, args)
    child_type = get_named_type(field_def.type)
    for field_node in info.field_nodes:
        _walk(info.schema, child_type, field_node.selection_set, info.fragments, variables, None, root.children)
    return root
