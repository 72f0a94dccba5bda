"""GraphQL root fields of this domain; thin over the service."""

import graphene


class FindingQueries(graphene.ObjectType):
    pass


class FindingMutations(graphene.ObjectType):
    pass
