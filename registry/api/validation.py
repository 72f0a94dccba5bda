"""Validation rules added to graphql-core's standard rules: limits on query depth and document
size, so that no request can make the server do unbounded work before it is refused, and a
check that string literals hold only text the database can store."""

import re

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    specified_rules,
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


def rules(*, max_depth: int, max_bytes: int) -> list[type[ASTValidationRule]]:
    return [*specified_rules, depth_limit_rule(max_depth), document_size_rule(max_bytes),
            TextValues]


__all__ = ["ValidationContext", "rules"]
