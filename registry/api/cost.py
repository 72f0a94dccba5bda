"""A cost limit for GraphQL operations on both schemas, checked with the other validation rules
(before any SQL runs, once per distinct document thanks to the endpoint's document cache).

The cost of an operation estimates how many values it may ask for: every field costs
``per_field``, times the number of parents it is asked on. A connection multiplies what is
below it by its ``first`` (the argument as written, capped at the largest page; a variable or
an absent ``first`` counts as the largest page, since the document is priced once whatever the
variables), any other list field by ``list_size`` (a person's certifications, stints,
findings...), or by its own size in ``list_sizes`` (by field name: the public aggregates are
longer than a person's lists). Introspection (``__schema``, ``__type``) is free: GraphiQL and
code generators load the schema with it. The depth limit of registry/api/validation.py still
applies on top.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

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

from registry.settings import Settings


@dataclass(frozen=True)
class CostModel:
    """What an operation may cost and how it is priced."""

    max_cost: int
    max_page: int
    per_field: int = 1
    list_size: int = 10
    list_sizes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def private(cls, settings: Settings) -> "CostModel":
        """The model of ``/graphql``; the public endpoint changes its limits."""
        return cls(max_cost=settings.max_query_cost, max_page=settings.max_page_size,
                   per_field=settings.cost_per_field, list_size=settings.cost_list_size)


def _first(node: FieldNode, max_page: int) -> int:
    for arg in node.arguments:
        if arg.name.value == "first" and isinstance(arg.value, IntValueNode):
            return max(1, min(int(arg.value.value), max_page))
    return max_page


def operation_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                   fragments: dict[str, FragmentDefinitionNode], model: CostModel) -> int:
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
                definition = parent.fields.get(name)
                if definition is None:
                    continue  # FieldsOnCorrectType reports it
                total += times * model.per_field
                named = get_named_type(definition.type)
                inner = times
                if named.name.endswith("Connection"):
                    inner = times * _first(sel, model.max_page)
                elif name in ("edges", "node"):
                    inner = times  # the connection counted its page already
                elif isinstance(get_nullable_type(definition.type), GraphQLList):
                    inner = times * model.list_sizes.get(name, model.list_size)
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


def cost_limit_rule(model: CostModel) -> type[ASTValidationRule]:
    class CostLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: object
                                       ) -> None:
            fragments = {d.name.value: d for d in self.context.document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            cost = operation_cost(self.context.schema, node, fragments, model)
            if cost > model.max_cost:
                name = node.name.value if node.name else "anonymous"
                self.report_error(GraphQLError(
                    f"Operation '{name}' may return about {cost:,} values; the limit is "
                    f"{model.max_cost:,}. Ask for fewer fields or fewer nested lists, or give "
                    "connections a smaller literal 'first' (a variable counts as the largest "
                    f"page, {model.max_page}).",
                    node, extensions={"code": "QUERY_TOO_COSTLY", "cost": cost,
                                      "maxCost": model.max_cost}))

    return CostLimit
