"""The certificate page, with where it is recognized on a date, and its QR code."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass

import segno
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ecolabel_registry.api.deps import (
    today,
)
from ecolabel_registry.api.pages import i18n, worldmap
from ecolabel_registry.api.pages.cache import entity_tag
from ecolabel_registry.api.pages.rendering import (
    HTML,
    SVG,
    On,
    Page,
    PageDep,
    cached_body,
    from_cache,
    not_found,
    page_cache,
    page_facts,
    page_url,
)
from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    Economy,
    Level,
    status_on,
)
from ecolabel_registry.services.equivalence import markets_of
from ecolabel_registry.services.snapshots import Snapshot

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Market:
    """One row of the certificate page's recognition table, ready to be written: a page may
    have a row for each of two hundred economies, so links and labels are made here, once
    per economy and agreement, not by the template for every row."""

    code: str
    name: str
    href: str
    level: Level
    level_label: str
    conditions: list[str]
    valid_until: dt.date | None
    through: list[tuple[str, str]]
    """The link and title of each agreement of the route (none for the home scheme)."""


@router.get("/certificates/{scheme_id}/{number:path}")
async def certificate_page(
    request: Request,
    page: PageDep,
    scheme_id: str,
    number: str,
    on: On = None,
) -> Response:
    """Holder, product, validity, status timeline, where it is recognized on a date, a QR.

    The page is made of the certificate (its version), the registry's small facts (the fact
    revision), the date, the language and the address. The certificate and the revision are
    read in one statement, without a threadpool hop, and name the page (its ETag and its key
    in the page cache): a conditional request for the same page is a 304, a page made before
    is sent as it is. A new page is made from the resolver's snapshot and the economy names
    kept for that revision; only when either must be brought up to date first (after a fact
    write) is it made in the threadpool.
    """
    facts = request.app.state.hot_facts
    revision, certificate = await facts.certificate_and_revision(scheme_id, number)
    if certificate is None:
        return not_found(page)
    day = on or today()
    cache = page_cache(request)
    key = (
        "certificate",
        revision,
        scheme_id,
        number,
        certificate.version,
        day,
        page.lang,
        str(request.url),
        request.app.state.settings.public_reads,
    )
    tag = entity_tag(*key)
    found = from_cache(request, tag, cache.pages.get(key), HTML)
    if found is not None:
        return found
    if worldmap.loaded() is None:  # the first page of the process reads the country shapes
        await run_in_threadpool(worldmap.load)
    snapshot = request.app.state.resolver_cache.current(revision)
    held = cache.names.current(revision)
    if snapshot is None or held is None:
        snapshot, names = await run_in_threadpool(page_facts, request, revision)
    else:
        names = held
    body = _certificate_body(page, certificate, snapshot, names, day)
    if body is None:  # its scheme or category is newer than the snapshot: should not happen
        return not_found(page)
    cache.pages.put(key, body)
    return cached_body(request, tag, body, HTML)


def _certificate_body(
    page: Page,
    certificate: Certificate,
    snapshot: Snapshot,
    names: Mapping[str, Economy],
    day: dt.date,
) -> bytes | None:
    """The certificate page's HTML (None when its scheme or category is not in `snapshot`)."""
    scheme_id, number = certificate.scheme_id, certificate.number
    scheme = snapshot.facts.schemes.get(scheme_id)
    category = snapshot.categories.get((scheme_id, certificate.category_code))
    if scheme is None or category is None:
        return None
    agreements = snapshot.agreements_by_id
    markets: list[Market] = []
    used: dict[str, tuple[str, str]] = {}
    level_labels: dict[Level, str] = {}
    for code, answer in markets_of(snapshot, certificate, day):
        best = answer.routes[0]
        through = []
        for step in best.path:
            link = used.get(step.agreement_id)
            if link is None:
                found = agreements.get(step.agreement_id)
                title = step.agreement_id if found is None else found.title
                link = used[step.agreement_id] = (
                    page.url("/agreements/" + step.agreement_id),
                    title,
                )
            through.append(link)
        level_label = level_labels.get(best.level)
        if level_label is None:
            level_label = level_labels[best.level] = page._.label(i18n.LEVELS, best.level.value)
        economy = names.get(code)
        markets.append(
            Market(
                code=code,
                name=code if economy is None else economy.name,
                href=page.url("/economies/" + code),
                level=best.level,
                level_label=level_label,
                conditions=[c.text for c in best.conditions],
                valid_until=answer.valid_until,
                through=through,
            )
        )
    markets.sort(key=lambda m: (-m.level.strength, m.code))
    world = worldmap.load()
    levels = worldmap.country_levels(
        ((m.code, m.level) for m in markets), snapshot.facts.economies, day
    )
    path = page_url(scheme_id, number)
    return page.body(
        "certificate.html",
        certificate=certificate,
        scheme=scheme,
        category=category,
        day=day,
        day_status=status_on(certificate.status_events, day, CertificateStatus),
        markets=markets,
        agreements_used=list(used.values()),
        world=world,
        map_paths=world.paths(levels, names) if markets else "",
        map_coloured=len(levels.keys() & world.codes),
        map_missing=[
            code if code not in names else names[code].name
            for code in sorted(levels.keys() - world.codes)
        ],
        map_levels=[level.value for level in Level],
        qr_url=page.url("/qr" + path),
        path=path,
    )


@router.get("/qr/certificates/{scheme_id}/{number:path}")
async def certificate_qr(
    request: Request,
    page: PageDep,
    scheme_id: str,
    number: str,
) -> Response:
    """The QR code of a certificate page, as SVG (made once per address, then kept).

    Only for certificates the registry holds: no code is drawn for an arbitrary text.
    """
    _revision, version = await request.app.state.hot_facts.version_and_revision(scheme_id, number)
    if version is None:
        return not_found(page)
    absolute = str(request.base_url).rstrip("/") + page_url(scheme_id, number)
    title = page._("QR code linking to this page")
    tag = entity_tag("qr", absolute, title)
    cache = page_cache(request)
    found = from_cache(request, tag, cache.qr.get(tag), SVG)
    if found is not None:
        found.headers["Cache-Control"] = "public, max-age=86400"
        return found
    svg = await run_in_threadpool(_qr_svg, absolute, title)
    cache.qr.put(tag, svg)
    response = cached_body(request, tag, svg, SVG)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _qr_svg(text: str, title: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=3, title=title, lineclass=None)
    return out.getvalue()
