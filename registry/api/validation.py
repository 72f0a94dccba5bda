"""Validation rules added to graphql-core's standard rules: limits on query depth, document
size and list inputs, so that no request can make the server do unbounded work before it is
refused, and a check that string literals hold only text the database can store. (The cost
limit is registry/api/cost.py.)"""

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import (
    ArgumentNode,
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    NoSchemaIntrospectionCustomRule,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValueNode,
    get_nullable_type,
    specified_rules,
    type_from_ast,
)

# Characters no text column can hold: NUL and UTF-16 surrogates (valid JSON escapes, but not
# encodable as UTF-8). Refused up front as bad input rather than failing in the database.
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
BAD_TEXT_MESSAGE = ("Text may not contain the NUL character (\\u0000) or unpaired surrogates "
                    "(\\ud800-\\udfff).")


class TextValues(ASTValidationRule):
    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if BAD_TEXT.search(node.value):
            self.report_error(GraphQLError(BAD_TEXT_MESSAGE, node,
                                           extensions={"code": "BAD_USER_INPUT"}))


def depth_limit_rule(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            depth = _depth(node.selection_set, fragments, 0, frozenset())
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                self.report_error(GraphQLError(
                    f"Operation '{name}' is {depth} levels deep; the limit is {max_depth}. "
                    "Ask for fewer nested levels, or split the query.",
                    node, extensions={"code": "QUERY_TOO_DEEP"},
                ))

    return DepthLimit


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    level: int,
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return level
    deepest = level
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            # __Type.ofType is a chain without fan-out (a list of non-null X is three links);
            # introspection follows it several links deep, so it does not count as a level.
            step = 0 if sel.name.value == "ofType" else 1
            deepest = max(deepest, _depth(sel.selection_set, fragments, level + step, seen))
        elif isinstance(sel, InlineFragmentNode):
            deepest = max(deepest, _depth(sel.selection_set, fragments, level, seen))
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            if name in fragments and name not in seen:  # cycles are reported by a standard rule
                fragment = fragments[name]
                deepest = max(
                    deepest, _depth(fragment.selection_set, fragments, level, seen | {name})
                )
    return deepest


def document_size_rule(max_bytes: int) -> type[ASTValidationRule]:
    class DocumentSize(ASTValidationRule):
        def enter_document(self, node: DocumentNode, *_: object) -> None:
            size = len(node.loc.source.body.encode()) if node.loc else 0
            if size > max_bytes:
                self.report_error(GraphQLError(
                    f"The document is {size} bytes; the limit is {max_bytes}. Send a smaller "
                    "document.", node, extensions={"code": "DOCUMENT_TOO_LARGE"},
                ))

    return DocumentSize


def _list_too_long(owner: str, name: str, path: str, count: int, max_items: int
                   ) -> GraphQLError:
    """``path`` is ``name`` for the argument or variable itself, else a field inside it."""
    shown = f"${name}" if owner == "Variable" else name
    where = f"{owner} '{shown}'" if path == name else f"{owner} '{shown}', field '{path}',"
    return GraphQLError(
        f"{where} has {count:,} items; at most {max_items:,} are accepted. Send fewer, or "
        "split the request.",
        extensions={"code": "BAD_USER_INPUT", "field": path, "maxItems": max_items})


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _long_literals(value: ValueNode, path: str, max_items: int) -> Iterator[tuple[str, int]]:
    if isinstance(value, ListValueNode):
        if len(value.values) > max_items:
            yield path, len(value.values)  # one error per list, not one per item inside it
            return
        for i, item in enumerate(value.values):
            yield from _long_literals(item, f"{path}[{i}]", max_items)
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from _long_literals(field.value, _join(path, field.name.value), max_items)


def list_length_rule(max_items: int) -> type[ASTValidationRule]:
    """Lists written in the document; long lists in variables: ``long_variable_lists``. A
    field of an input object is named as the services name it, inside the argument
    (``priorNames``, ``certificateNumbers[0].state``)."""

    class ListLength(ASTValidationRule):
        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            name = node.name.value
            start = "" if isinstance(node.value, ObjectValueNode) else name
            for path, count in _long_literals(node.value, start, max_items):
                error = _list_too_long("Argument", name, path, count, max_items)
                self.report_error(GraphQLError(error.message, node,
                                               extensions=error.extensions))

    return ListLength


def _container(type_: GraphQLInputType) -> bool:
    return isinstance(get_nullable_type(type_), GraphQLList | GraphQLInputObjectType)


@lru_cache(maxsize=256)
def _fields_holding_lists(type_: GraphQLInputObjectType
                          ) -> tuple[tuple[str, GraphQLInputType], ...]:
    return tuple((name, f.type) for name, f in type_.fields.items() if _container(f.type))


@lru_cache(maxsize=256)
def _may_hold_lists(type_: GraphQLInputType) -> bool:
    """A list, or an input object with a list or object field: worth walking into (a list of
    scalars, or of objects of scalars, is not walked item by item)."""
    nullable = get_nullable_type(type_)
    return isinstance(nullable, GraphQLList) or (
        isinstance(nullable, GraphQLInputObjectType) and bool(_fields_holding_lists(nullable)))


def long_variable_lists(schema: GraphQLSchema, operation: OperationDefinitionNode,
                        variables: dict[str, Any], max_items: int) -> list[GraphQLError]:
    """Lists in the variables longer than ``max_items``, found through each variable's
    declared type (a JSON list where the type has none is left to variable coercion)."""

    def walk(variable: str, type_: GraphQLInputType, value: Any, path: str
             ) -> Iterator[GraphQLError]:
        type_ = get_nullable_type(type_)
        if isinstance(type_, GraphQLList) and isinstance(value, list):
            if len(value) > max_items:
                yield _list_too_long("Variable", variable, path, len(value), max_items)
                return
            if _may_hold_lists(type_.of_type):  # a list of scalars is not walked
                for i, item in enumerate(value):
                    yield from walk(variable, type_.of_type, item, f"{path}[{i}]")
        elif isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
            for name, field_type in _fields_holding_lists(type_):
                if name in value:
                    # Inside an object the path starts at its fields, as services name them.
                    yield from walk(variable, field_type, value[name], _join(path, name))

    errors: list[GraphQLError] = []
    for definition in operation.variable_definitions:
        name = definition.variable.name.value
        declared = type_from_ast(schema, definition.type)
        if name in variables and declared is not None:
            start = "" if isinstance(get_nullable_type(declared), GraphQLInputObjectType) \
                else name
            errors += walk(name, declared, variables[name], start)  # type: ignore[arg-type]
    return errors


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, with a code and a hint a client can act on."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(GraphQLError(
            f"{error.message} Introspection is off on this endpoint in production: use the "
            "printed schema (graphql/schema.graphql).",
            error.nodes, extensions={"code": "INTROSPECTION_DISABLED"}))


def rules(*, max_depth: int, max_bytes: int, max_list_items: int, introspection: bool = True
          ) -> list[type[ASTValidationRule]]:
    return [*specified_rules, depth_limit_rule(max_depth), document_size_rule(max_bytes),
            list_length_rule(max_list_items), TextValues,
            *([] if introspection else [NoIntrospection])]


__all__ = ["ValidationContext", "rules"]
