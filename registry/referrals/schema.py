"""GraphQL root fields of this domain; thin over the service."""

import graphene


class ReferralQueries(graphene.ObjectType):
    pass


class ReferralMutations(graphene.ObjectType):
    pass
