import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.agencies.dataloaders import AgencyById
from registry.api.loaders import RequestLoader, group
from registry.background_checks import repository
from registry.cases.dataloaders import ActionsByPerson, CaseById, CasesByPerson, FinalOrdersByCase
from registry.certifications.dataloaders import CertificationsByPerson, StatusEventsByCertification
from registry.employment.dataloaders import StintsByPerson
from registry.findings.dataloaders import ConvictionsByPerson, FindingsByPerson
from registry.officers.dataloaders import NamesByPerson, PersonById, RecordIdsByPerson


class FlagsByPerson(RequestLoader):
    """The flags of many people in one query."""

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return await repository.flags_of_people(session, keys)


class ReportedPerson(RequestLoader):
    """The person behind a record id a check returned, read with everything the check's
    report shows in one statement. The request's loaders of each relation are primed with
    it, so the shared types (Officer, Certification, Stint, Case...) resolve the report
    without a query of their own, and a field the report did not read still loads."""

    async def fetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        found = {}
        for report in await repository.reports_of_people(session, keys):
            self._prime(report)
            found.update({r: report.person for r in report.records})
        return found

    async def prefetch(self, session: AsyncSession, keys: list[uuid.UUID]) -> None:
        """Read the reports now, in ``session``'s transaction (the check's own, before its
        trail is written), so that resolving them later sends nothing: after the commit
        the read would cost a transaction of its own."""
        for key, person in (await self.fetch(session, keys)).items():
            self.prime(key, person)

    def _prime(self, r: repository.PersonReport) -> None:
        loader = self.context.loader
        for record in r.records:
            loader(PersonById).prime(record, r.person)
        for cls, rows in ((RecordIdsByPerson, r.records), (NamesByPerson, r.names),
                          (CertificationsByPerson, r.certifications), (StintsByPerson, r.stints),
                          (FindingsByPerson, r.findings), (ConvictionsByPerson, r.convictions),
                          (CasesByPerson, r.cases), (ActionsByPerson, r.actions),
                          (FlagsByPerson, r.flags)):
            loader(cls).prime(r.person_id, rows)
        for cls, parents, rows, key in (
                (StatusEventsByCertification, r.certifications, r.status_events,
                 "certification_id"),
                (FinalOrdersByCase, r.cases, r.final_orders, "case_id")):
            children = group((getattr(row, key), row) for row in rows)
            for parent in parents:
                loader(cls).prime(parent.id, children.get(parent.id, []))
        for case in r.cases:
            loader(CaseById).prime(case.id, case)
        for agency in r.agencies:
            loader(AgencyById).prime(agency.id, agency)
