"""GraphQL root fields of this domain; thin over the service."""

import graphene


class CaseQueries(graphene.ObjectType):
    pass


class CaseMutations(graphene.ObjectType):
    pass
