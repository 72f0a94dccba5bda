"""Scalars shared by both schemas."""

from typing import Any

import graphene
from graphql import StringValueNode, ValueNode

from registry.dates import PartialDate as PartialDateValue
from registry.errors import InvalidInput


class PartialDate(graphene.Scalar):
    """A date known to the day (YYYY-MM-DD), the month (YYYY-MM) or only the year (YYYY)."""

    @staticmethod
    def serialize(value: PartialDateValue) -> str:
        return str(value)

    @staticmethod
    def parse_value(value: Any) -> PartialDateValue:
        if not isinstance(value, str):
            raise ValueError("a partial date is a string: YYYY, YYYY-MM or YYYY-MM-DD")
        try:
            return PartialDateValue.parse(value)
        except InvalidInput as err:
            raise ValueError(err.message) from None

    @staticmethod
    def parse_literal(node: ValueNode, _variables: Any = None) -> PartialDateValue:
        if not isinstance(node, StringValueNode):
            raise ValueError("a partial date is a string: YYYY, YYYY-MM or YYYY-MM-DD")
        return PartialDate.parse_value(node.value)
