"""The public credential page: what a teacher shares and a state verifier opens, rendered from plain values.

Pure functions from a ``CredentialPage`` to HTML, so routes only gather data and tests need no app.
Jinja2 autoescapes everything; on top of that every URL goes through ``href``, because escaping does
not stop a ``javascript:`` link and the issuer URL comes from outside this service. The page needs no
JavaScript: "Verify" is a plain link to the same page with ``?verify=1``, and sharing is a link field
and a LinkedIn link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Literal
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from microcred.award.service_layer.signing import Check

__all__ = ["Check", "CredentialPage", "ResultLine", "linkedin_add_to_profile_url", "render_credential_page",
           "render_not_found"]

Status = Literal["active", "revoked", "suspended", "expired"]

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# Label, short word and icon per status; only "active" is green (see the CSS), the rest never are.
_STATUS: dict[str, tuple[str, str, str]] = {
    "active": ("Valid credential", "Active", "✓"),
    "revoked": ("This credential has been revoked", "Revoked", "✗"),
    "suspended": ("This credential is suspended", "Suspended", "!"),
    "expired": ("This credential has expired", "Expired", "⌛"),
}
_SAFE_SCHEMES = {"http", "https"}


@dataclass(frozen=True)
class ResultLine:
    criterion: str
    level: str


@dataclass(frozen=True)
class CredentialPage:
    title: str
    description: str
    criteria: str
    image_url: str
    issuer_name: str
    issuer_url: str | None
    issued_at: datetime
    valid_until: datetime | None
    status: Status
    status_detail: str | None
    results: tuple[ResultLine, ...]
    checks: tuple[Check, ...] | None
    verified: bool | None
    page_url: str
    verify_url: str
    json_url: str
    png_url: str
    svg_url: str
    jwt_url: str | None
    linkedin_url: str


def _href_or_none(url: str | None) -> str | None:
    """``url`` when it is http(s) or a same-site path; None for anything a browser might execute."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme:
        return url.strip() if parts.scheme.lower() in _SAFE_SCHEMES and parts.netloc else None
    return url.strip() if url.startswith("/") and not url.startswith("//") else None


def _href(url: str | None) -> str:
    return _href_or_none(url) or "#"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("page dates must be timezone-aware")
    return moment.astimezone(UTC)


def _day(moment: datetime) -> str:
    # Month names are fixed English rather than strftime("%B"), which follows the server's locale.
    utc = _utc(moment)
    return f"{utc.day} {_MONTHS[utc.month - 1]} {utc.year}"


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("microcred.award.entrypoints", "templates"),
        autoescape=select_autoescape(["html"], default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(href=_href, href_or_none=_href_or_none, day=_day, iso=_iso)
    return environment


def _summary(page: CredentialPage) -> str:
    text = f"{page.title}, a micro-credential issued by {page.issuer_name} on {_day(page.issued_at)}."
    if page.status != "active":
        text += f" Status: {_STATUS[page.status][1].lower()}."
    return text


def render_credential_page(page: CredentialPage) -> str:
    if page.status not in _STATUS:
        raise ValueError(f"unknown credential status {page.status!r}")
    # Link previews (OpenGraph) only follow absolute URLs, so a relative one would unfurl blank.
    for field in ("page_url", "image_url"):
        url = getattr(page, field)
        if not (_href_or_none(url) and urlsplit(url).scheme):
            raise ValueError(f"{field} must be an absolute http(s) URL, got {url!r}")
    label, word, icon = _STATUS[page.status]
    return _environment().get_template("credential.html").render(
        page=page, summary=_summary(page), status_label=label, status_word=word, status_icon=icon
    )


def render_not_found(message: str) -> str:
    return _environment().get_template("not_found.html").render(message=message)


def linkedin_add_to_profile_url(
    *,
    name: str,
    organization_name: str,
    issued_at: datetime,
    valid_until: datetime | None,
    cert_url: str,
    cert_id: str,
    organization_id: str | None = None,
) -> str:
    """LinkedIn's "Add to profile" link for a certification, prefilled.

    LinkedIn takes the organization either as its company page id (``organizationId``, which links
    the certification to the page and its logo) or as free text (``organizationName``); given an id,
    the name is left out so LinkedIn does not show a second, unlinked issuer. Dates are the UTC
    year and month, the only precision LinkedIn keeps.
    """
    issued = _utc(issued_at)
    params: list[tuple[str, str]] = [("startTask", "CERTIFICATION_NAME"), ("name", name)]
    params.append(("organizationId", organization_id) if organization_id else ("organizationName", organization_name))
    params += [("issueYear", str(issued.year)), ("issueMonth", str(issued.month))]
    if valid_until is not None:
        expires = _utc(valid_until)
        params += [("expirationYear", str(expires.year)), ("expirationMonth", str(expires.month))]
    params += [("certUrl", cert_url), ("certId", cert_id)]
    return "https://www.linkedin.com/profile/add?" + urlencode(params, quote_via=quote)
