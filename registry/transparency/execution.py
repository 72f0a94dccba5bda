"""A leaner graphql-core execution for the public schema.

The public resolvers return plain dicts that already hold what a client may ask for
(registry/transparency/schema.py builds them from one SQL row). graphql-core still builds a
``GraphQLResolveInfo``, coerces (absent) arguments and calls graphene's default resolver for
each field of them: for a page of 25 officers that is a large part of the execution time
(bench/bench_public.py). This context takes a shortcut for exactly those fields: no
arguments, graphene's default dict resolver, a dict parent.
- a scalar or enum: read the key and serialize the value as graphql-core would;
- an object or a list (of a type without ``is_type_of``, as every public type is): read the
  key and complete the value with graphql-core's own ``complete_value``, which needs the
  resolve info only for abstract types (the public schema has none).
Anything else (custom resolvers, arguments, nulls on non-null leaves, serialization errors)
goes through graphql-core's own path, and errors are located and handled the same way.

On top of that, a resolved dict or list (a search's connection) whose whole selection is made
of such fields is completed by a function compiled once per request from the selection
(``_compile``): plain dict and list building, no per-field machinery. Anything it does not
expect (a null where the schema says non-null, a value that does not serialize, a missing
prefetched key) abandons it, and graphql-core completes the value from scratch, errors and
all.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from graphene.types.resolver import dict_or_attr_resolver, dict_resolver
from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
    located_error,
)
from graphql.pyutils import Path

from registry.api.http import PlainExecutionContext

_MISSING = object()
_Plan = tuple[str, Any, Any, bool, Any, bool] | None


class _Fallback(Exception):
    """A compiled completion met what it does not handle: graphql-core takes over."""


_Complete = Callable[[Any], Any]


class LeanExecutionContext(PlainExecutionContext):
    _plans: dict[tuple[str, str], _Plan] = {}

    def complete_value(self, return_type: GraphQLOutputType, field_nodes: list[FieldNode],
                       info: GraphQLResolveInfo, path: Path, result: Any) -> Any:
        if type(result) in (dict, list):
            compiled = self._compiled(return_type, field_nodes)
            if compiled is not None:
                try:
                    return compiled(result)
                except _Fallback:
                    pass
        return super().complete_value(return_type, field_nodes, info, path, result)

    def _compiled(self, return_type: GraphQLOutputType, field_nodes: list[FieldNode]
                  ) -> _Complete | None:
        # Per request: the selection (with @skip/@include) depends on its variables.
        cache = self.__dict__.setdefault("_compiled_cache", {})
        key = (id(return_type), id(field_nodes))
        if key not in cache:
            cache[key] = (self._compile(return_type, field_nodes), field_nodes)
        return cache[key][0]

    def _compile(self, type_: Any, field_nodes: list[FieldNode]) -> _Complete | None:
        if isinstance(type_, GraphQLNonNull):
            inner = self._compile(type_.of_type, field_nodes)
            if inner is None:
                return None

            def non_null(value: Any) -> Any:
                if value is None:
                    raise _Fallback
                return inner(value)

            return non_null
        if isinstance(type_, GraphQLList):
            item = self._compile(type_.of_type, field_nodes)
            if item is None:
                return None

            def listed(value: Any) -> Any:
                if value is None:
                    return None
                if type(value) is not list:
                    raise _Fallback
                return [item(v) for v in value]

            return listed
        if is_leaf_type(type_):
            serialize = type_.serialize

            def leaf(value: Any) -> Any:
                if value is None:
                    return None
                try:
                    result = serialize(value)
                except Exception:
                    raise _Fallback from None
                if result is None:
                    raise _Fallback
                return result

            return leaf
        if not isinstance(type_, GraphQLObjectType) or type_.is_type_of is not None:
            return None
        steps: list[tuple[str, str, bool, _Complete | None, str | None]] = []
        for response_key, nodes in self.collect_subfields(type_, field_nodes).items():
            name = nodes[0].name.value
            if name == "__typename":
                steps.append((response_key, "", False, None, type_.name))
                continue
            field = type_.fields.get(name)
            source = _source(field) if field is not None else None
            if source is None or nodes[0].arguments:
                return None
            child = self._compile(field.type, nodes)  # type: ignore[union-attr]
            if child is None:
                return None
            steps.append((response_key, source[0], source[1], child, None))

        def complete_object(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not dict:
                raise _Fallback
            out = {}
            for response_key, attname, only_if_present, child, typename in steps:
                if typename is not None:
                    out[response_key] = typename
                elif only_if_present and attname not in value:
                    raise _Fallback
                else:
                    out[response_key] = child(value.get(attname))  # type: ignore[misc]
            return out

        return complete_object

    def execute_field(self, parent_type: GraphQLObjectType, source: Any,
                      field_nodes: list[FieldNode], path: Path) -> Any:
        if type(source) is dict and not field_nodes[0].arguments:
            key = (parent_type.name, field_nodes[0].name.value)
            plan = self._plans.get(key, _MISSING)
            if plan is _MISSING:
                plan = self._plans[key] = _plan(parent_type, key[1])
            if plan is not None and (plan[5] is False or plan[0] in source):
                attname, default, serialize, non_null, return_type, _ = plan
                value = source.get(attname, default)
                if serialize is None:
                    return self._complete(return_type, field_nodes, path, value)
                if value is None:
                    if not non_null:
                        return None
                else:
                    try:
                        result = serialize(value)
                    except Exception:  # let graphql-core report it, located
                        result = None
                    if result is not None:
                        return result
        return super().execute_field(parent_type, source, field_nodes, path)

    def _complete(self, return_type: Any, field_nodes: list[FieldNode], path: Path,
                  value: Any) -> Any:
        """graphql-core's completion of a resolved value, as in ``execute_field``."""
        try:
            completed = self.complete_value(return_type, field_nodes, None,  # type: ignore
                                            path, value)
        except Exception as raw_error:
            self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()),
                                    return_type, path)
            return None
        if self.is_awaitable(completed):
            async def await_completed() -> Any:
                try:
                    return await completed
                except Exception as raw_error:
                    self.handle_field_error(
                        located_error(raw_error, field_nodes, path.as_list()), return_type,
                        path)
                    return None

            return await_completed()
        return completed


def _plan(parent_type: GraphQLObjectType, name: str) -> _Plan:
    """(key, default, serialize or None, non-null, type, only if present) for a field read
    straight from a dict, else None."""
    field = parent_type.fields.get(name)
    if field is None:
        return None
    source = _source(field)
    if source is None:
        return None
    attname, optional = source
    default = field.resolve.args[1] if isinstance(field.resolve, partial) else None
    non_null = is_non_null_type(field.type)
    named = get_named_type(field.type)
    if is_leaf_type(named):
        leaf = field.type.of_type if non_null else field.type
        if leaf is not named:
            return None  # a list of scalars: graphql-core's path
        return attname, default, named.serialize, non_null, field.type, optional  # type: ignore
    if isinstance(named, GraphQLObjectType) and named.is_type_of is None:
        return attname, default, None, non_null, field.type, optional
    return None


def _source(field: Any) -> tuple[str, bool] | None:
    """Where a field's value sits in a dict parent: (key, only when present), for graphene's
    default resolver and for ``prefetched`` resolvers; None for other resolvers and for
    fields with arguments."""
    if field.args:
        return None
    resolve = field.resolve
    prefetched = getattr(resolve, "prefetched", None)
    if prefetched is not None:
        # A resolver that loads the value unless the parent already holds it.
        return prefetched, True
    if isinstance(resolve, partial) and resolve.func in (dict_or_attr_resolver, dict_resolver):
        return resolve.args[0], False
    return None


def prefetched(key: str) -> Any:
    """Mark a resolver that returns ``root[key]`` when the root dict has that key (and loads
    the value otherwise): the lean execution reads the key itself."""
    def mark(resolver: Any) -> Any:
        target = resolver.__func__ if isinstance(resolver, staticmethod) else resolver
        target.prefetched = key
        return resolver

    return mark
