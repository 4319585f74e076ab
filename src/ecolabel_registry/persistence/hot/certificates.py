"""Lists of certificates read on the hot reads: the search and the lists of the API."""

from __future__ import annotations

from ecolabel_registry.domain.model import Certificate
from ecolabel_registry.persistence import search
from ecolabel_registry.persistence.hot.reads import HotReads
from ecolabel_registry.persistence.repositories.certificates import WholeRows
from ecolabel_registry.services.ports.registry import CertificateFilter

ON_LOOP_SECONDS = 0.005
"""How long a list's statement may run on the event loop (SQLite) before it is stopped and
run again in the threadpool: a search is a fraction of a millisecond, but a word in most
certificates that no prefix index holds (`generated`), or words found only together in few,
can take far longer."""


class HotCertificates:
    """Lists of certificates (the port `CertificateLists`) with one plain-SQL
    statement each, the statement of `persistence.search.listed`, on the hot reads: SQLite's
    held connection on the event loop, PostgreSQL's asynchronous pool; no session, no
    thread."""

    def __init__(self, reads: HotReads) -> None:
        self._r = reads
        self._name = reads.bind.dialect.name
        self._scheme_sql = f"SELECT 1 FROM scheme WHERE id = {reads.dialect.mark}"

    async def find(
        self, filters: CertificateFilter, after: int | None, limit: int
    ) -> list[tuple[int, Certificate]]:
        """Up to `limit` certificates matching `filters` after the id `after`, in id order,
        each with its id."""
        dialect = self._r.dialect
        sql, params = search.listed(self._name, dialect.listed_columns, filters, after, limit)
        rows = await self._r.fetch_briefly(sql, params, ON_LOOP_SECONDS)
        return WholeRows(dialect.text_dates).listed(rows)

    async def scheme_exists(self, scheme_id: str) -> bool:
        return bool(await self._r.fetch(self._scheme_sql, (scheme_id,)))
