"""The hot read path of the equivalence resolver: plain SQL on one held DBAPI connection.

A single question is one statement that returns the registry's revision counter and what
the resolver reads of the certificate (its terms) together, so the cache check costs no
round trip of its own and sees exactly the same database snapshot as the certificate. No
ORM, no SQLAlchemy statement compilation, no pool checkout per request: the `async def`
handlers call this synchronously on the event loop (a primary-key lookup is shorter than a
threadpool hop). The lists of certificates (the search) are read the same way
(`HotCertificates`), a statement that runs long on SQLite moved off the event loop.
"""

from ecolabel_registry.persistence.hot.certificates import HotCertificates
from ecolabel_registry.persistence.hot.dialect import TermsDialect
from ecolabel_registry.persistence.hot.facts import HotFacts, warm_resolver_cache
from ecolabel_registry.persistence.hot.reads import HotReads

__all__ = ["HotCertificates", "HotFacts", "HotReads", "TermsDialect", "warm_resolver_cache"]
