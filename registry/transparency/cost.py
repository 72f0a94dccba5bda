"""A cost limit for public operations, checked with the other validation rules (before any
SQL runs, once per distinct document thanks to the endpoint's document cache).

The cost of an operation is the number of values it may ask for: every field counts 1, times
the number of parents it is asked on. A connection multiplies what is below it by its
``first`` (the argument as written; a variable or an absent ``first`` counts as the largest
page), a list field by ``LIST_SIZE`` (a person's certifications, employment, findings...),
a list of the aggregates by ``AGGREGATE_SIZE``. Introspection (``__schema``, ``__type``) is
free: GraphiQL and code generators load the schema with it. The depth limit of
registry/api/validation.py still applies on top.
"""

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
)

LIST_SIZE = 10
AGGREGATE_SIZE = 50
AGGREGATES = {"decertificationsByYear", "decertificationsByAgency", "byGround", "grounds"}


def _first(node: FieldNode, max_page: int) -> int:
    for arg in node.arguments:
        if arg.name.value == "first" and isinstance(arg.value, IntValueNode):
            return max(1, min(int(arg.value.value), max_page))
    return max_page


def operation_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                   fragments: dict[str, FragmentDefinitionNode], max_page: int) -> int:
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0

    def walk(selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
             times: int, seen: frozenset[str]) -> int:
        if selection_set is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                name = sel.name.value
                if name.startswith("__"):
                    continue
                field = parent.fields.get(name)
                if field is None:
                    continue  # FieldsOnCorrectType reports it
                total += times
                named = get_named_type(field.type)
                inner = times
                if named.name.endswith("Connection"):
                    inner = times * _first(sel, max_page)
                elif isinstance(get_nullable_type(field.type), GraphQLList):
                    inner = times * (AGGREGATE_SIZE if name in AGGREGATES else LIST_SIZE)
                if name == "edges" or name == "node":
                    inner = times  # the connection counted its page already
                total += walk(sel.selection_set, named, inner, seen)
            elif isinstance(sel, InlineFragmentNode):
                target = (schema.get_type(sel.type_condition.name.value)
                          if sel.type_condition else parent)
                total += walk(sel.selection_set, target, times, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    target = schema.get_type(fragment.type_condition.name.value)
                    total += walk(fragment.selection_set, target, times, seen | {name})
        return total

    return walk(operation.selection_set, root, 1, frozenset())


def cost_limit_rule(max_cost: int, max_page: int) -> type[ASTValidationRule]:
    class CostLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object
                                       ) -> None:
            fragments = {d.name.value: d for d in self.context.document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            cost = operation_cost(self.context.schema, node, fragments, max_page)
            if cost > max_cost:
                name = node.name.value if node.name else "anonymous"
                self.report_error(GraphQLError(
                    f"Operation '{name}' may return about {cost:,} values; the limit is "
                    f"{max_cost:,}. Ask for fewer fields or a smaller page (first).",
                    node, extensions={"code": "QUERY_TOO_COSTLY", "cost": cost,
                                      "maxCost": max_cost}))

    return CostLimit
