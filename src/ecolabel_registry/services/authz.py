"""Who may write what: the roles of docs/domain.md ("What the registry never does")."""

from __future__ import annotations

import datetime as dt

from ecolabel_registry.domain.access import Actor, Role
from ecolabel_registry.domain.errors import Forbidden
from ecolabel_registry.domain.model import CertificationBody, window_contains


def require_operator(actor: Actor, what: str) -> None:
    """Only the registry operator may do this."""
    if actor.role is not Role.OPERATOR:
        raise Forbidden(f"only the registry operator may {what}")


def require_scheme_operator(actor: Actor, scheme_id: str, what: str) -> None:
    """The operator, or a scheme operator bound to this scheme."""
    if actor.role is Role.OPERATOR:
        return
    if actor.role is Role.SCHEME_OPERATOR and scheme_id in actor.scheme_ids:
        return
    raise Forbidden(f"only the registry operator or an operator of scheme {scheme_id!r} may {what}")


def require_issuing_body(
    actor: Actor,
    body: CertificationBody | None,
    scheme_id: str,
    valid_from: dt.date,
    what: str,
) -> None:
    """The operator, or the certification body that issues the certificate.

    A certification body must also be authorized for the scheme on the certificate's
    first day of validity.
    """
    if actor.role is Role.OPERATOR:
        return
    if (
        actor.role is not Role.CERTIFICATION_BODY
        or body is None
        or body.id != actor.certification_body_id
    ):
        raise Forbidden(f"only the certification body that issues the certificate may {what}")
    if not is_authorized(body, scheme_id, valid_from):
        raise Forbidden(
            f"certification body {body.id!r} is not authorized for scheme {scheme_id!r} "
            f"on {valid_from}"
        )


def is_authorized(body: CertificationBody, scheme_id: str, on: dt.date) -> bool:
    """Whether the body holds an authorization for the scheme on the date."""
    return any(
        a.scheme_id == scheme_id and window_contains(a.valid_from, a.valid_to, on)
        for a in body.authorizations
    )
