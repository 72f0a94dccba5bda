"""Validation rules added to graphql-core's standard rules: limits on query depth and document
size, so that no request can make the server do unbounded work before it is refused."""

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
    ValidationContext,
    specified_rules,
)


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
            deepest = max(deepest, _depth(sel.selection_set, fragments, level + 1, seen))
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
    return [*specified_rules, depth_limit_rule(max_depth), document_size_rule(max_bytes)]


__all__ = ["ValidationContext", "rules"]
