"""Domain errors; the API layer maps each to an HTTP problem.

DomainError
 +-- NotFound            an addressed entity does not exist
 +-- Conflict            the write collides with existing state (duplicate key)
 |    +-- Busy           another write held what this one needed: nothing written, retry
 +-- StaleVersion        the caller's version is not the current one
 +-- VersionRequired     an update came without the version it applies to
 +-- InvalidInput        one or more fields are wrong; carries FieldError items
 +-- Unauthenticated     no valid credentials
 +-- Forbidden           credentials valid, but not allowed to do this
 +-- Unavailable         the registry cannot do this now (the database unreachable, no
 |                       signing key, too much work at once): nothing done
 +-- QuotaExceeded       the caller used up its allowance for now: nothing done

The driver's errors (a lost connection, a lock or statement timeout, SQLite's busy lock) are
turned into Busy and Unavailable in one place, `persistence.errors.domain_error`.
"""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error the services raise on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """An addressed entity does not exist."""


class Conflict(DomainError):
    """The write collides with existing state."""


class Busy(Conflict):
    """Another write held what this one needed longer than it could wait: nothing was
    written, and the same request can be sent again after `retry_after` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """The registry cannot do this now (the database unreachable, a statement out of time,
    no signing key): nothing was done; when `retry_after` is given, the same request can be
    sent again after that many seconds, else an operator must act first."""

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class QuotaExceeded(DomainError):
    """The caller (an API key) has used up what it may do in a period: nothing was done; the
    same request can be sent again after `retry_after` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class StaleVersion(DomainError):
    """The version given by the caller is no longer the current one."""


class VersionRequired(DomainError):
    """An update came without the version it applies to."""


class Unauthenticated(DomainError):
    """No valid credentials were presented."""


class Forbidden(DomainError):
    """The caller may not do this."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: `loc` is its path in the request, e.g. ("body", "valid_to")."""

    loc: tuple[str | int, ...]
    message: str
    type: str = "value_error"


class InvalidInput(DomainError):
    """One or more fields of the request are invalid."""

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(
            detail or "; ".join(f"{'.'.join(map(str, e.loc))}: {e.message}" for e in errors)
        )
        self.errors = errors

    @classmethod
    def single(cls, loc: tuple[str | int, ...], message: str) -> InvalidInput:
        """An error about one field."""
        return cls([FieldError(loc, message)])
