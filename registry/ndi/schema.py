"""GraphQL root fields of the NDI; thin over the service.

The export is a mutation, not a query: it records a submission in the ledger, and that
changes what the next export sends (a second ``SINCE_LAST`` sends nothing). A query must be
safe to repeat, prefetch or serve over GET; this is not.
"""

import io
import uuid
from datetime import datetime
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import connection, decode_cursor, page_size
from registry.ndi import service
from registry.ndi.types import NdiExport, NdiExportScope, NdiSubmission, NdiSubmissionConnection


class NdiQueries(graphene.ObjectType):
    ndi_submissions = graphene.Field(
        NdiSubmissionConnection, required=True, first=graphene.Int(), after=graphene.String(),
        description="The NDI submission ledger, newest first (POST staff, administrators).")

    @staticmethod
    async def resolve_ndi_submissions(_root: Any, info: GraphQLResolveInfo,
                                      first: int | None = None, after: str | None = None
                                      ) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        position = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        async with c.read() as session:
            rows = await service.submissions(session=session, actor=actor(info),
                                             limit=limit + 1,
                                             after=position)  # type: ignore[arg-type]
        return connection(NdiSubmissionConnection, rows, limit,
                          lambda r: (r.recorded_at.isoformat(), r.id))


class SubmitNdiExport(graphene.Mutation):
    """Export this state's decertification actions for the NDI and record the submission
    (POST staff); with REGISTRY_NDI_UNDER_INVESTIGATION its pending cases too, as "under
    investigation" records. Every record is checked against the layout first: one that fails
    refuses the whole export (NDI_RECORDS_INVALID, each failure listed) and records
    nothing."""

    class Arguments:
        scope = NdiExportScope(required=True)

    Output = NdiExport

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, scope: Any) -> Any:
        c = ctx(info)
        sink = io.BytesIO()
        records: list[service.ExportedRecord] = []
        async with c.write() as session:
            sent = await service.export(
                session=session, actor=actor(info), settings=c.settings,
                scope=enums.value(scope), sink=sink, on_record=records.append,
                max_records=c.settings.ndi_graphql_max_records)
        return NdiExport(id=sent.id, submission=NdiSubmission(**vars(sent)), records=records,
                         csv=sink.getvalue().decode(service.LAYOUT.file.encoding))


class NdiMutations(graphene.ObjectType):
    submit_ndi_export = SubmitNdiExport.Field()
