"""The receipt verification page: a decision's receipt checked against the published keys."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ecolabel_registry.api.decisions_io import verify_receipt
from ecolabel_registry.api.deps import (
    SessionDep,
    session_decisions,
)
from ecolabel_registry.api.pages.rendering import (
    Page,
    PageDep,
    not_found,
)
from ecolabel_registry.domain.errors import DomainError, NotFound
from ecolabel_registry.services.signing import ReceiptInvalid, ReceiptSigner

router = APIRouter(include_in_schema=False)


VERIFY_SHOWN_LINES = 200
"""The most lines of a batch decision the verification page lists."""


def _decision_id(text: str) -> str:
    """A decision's id from its id or its URL (the last segment of the path)."""
    return text.strip().rstrip("/").rsplit("/", 1)[-1]


def _verify(page: Page, receipt: str, decision: str | None, status: int = 200) -> Response:
    """The page with the verdict on `receipt`, checked against the published keys."""
    signer: ReceiptSigner = page.request.app.state.signer
    credential = failure = detail = None
    try:
        credential = verify_receipt(receipt, signer.jwks())
    except ReceiptInvalid as invalid:
        failure, detail = invalid.code, str(invalid)
    except DomainError:  # the registry's keys cannot be read: nothing can be checked
        failure, status = "keys", 503
    subject = None if credential is None else credential.credential_subject
    lines = None if subject is None or subject.lines is None else subject.lines
    return page.render(
        "verify.html",
        status=status,
        checked=True,
        credential=credential,
        subject=subject,
        lines=None if lines is None else lines[:VERIFY_SHOWN_LINES],
        line_count=0 if lines is None else len(lines),
        failure=failure,
        detail=detail,
        # A receipt that does not verify is shown again to be corrected, unless it is long.
        receipt=receipt if credential is None and len(receipt) <= 100_000 else "",
        decision=decision,
    )


@router.get("/verify")
def verify_page(
    request: Request,
    page: PageDep,
    session: SessionDep,
    decision: Annotated[
        str | None, Query(max_length=300, description="A decision's id or URL.")
    ] = None,
) -> Response:
    """The receipt verification page: a form to paste a receipt, or the verdict on the
    receipt of a decision of this registry (its id or link in `decision`)."""
    if not decision:
        return page.render("verify.html", checked=False, receipt="", decision=None)
    decisions = session_decisions(request, session)
    try:
        stored = decisions.get(_decision_id(decision))
    except NotFound:
        return not_found(page)
    return _verify(page, stored.receipt, stored.id)


async def _form_receipt(request: Request) -> str:
    """The `receipt` field of the form (application/x-www-form-urlencoded), "" when absent."""
    body = await request.body()
    fields = parse_qs(body.decode("latin-1"), max_num_fields=10)
    return fields.get("receipt", [""])[0]


@router.post("/verify")
def verify_pasted(
    page: PageDep,
    receipt: Annotated[str, Depends(_form_receipt)],
) -> Response:
    """The verdict on a pasted receipt, checked against the registry's published keys."""
    if not receipt.strip():
        return page.render(
            "verify.html",
            status=422,
            checked=False,
            receipt="",
            decision=None,
            empty=True,
        )
    return _verify(page, receipt.strip(), None)
