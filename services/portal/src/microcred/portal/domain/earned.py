"""The teacher's earned credentials as the page shows them: status in words, the public share page, the downloads
and LinkedIn's add-to-profile link. Pure: built from the award service's ``GET /awards`` (the caller's own).

Every link points at the award service's public pages (``page_url``, open to anyone without a token): the share
page is what a teacher sends an employer, and its downloads are the signed credential itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from microcred.portal.domain.timeline import day

KIND_WORDS = {"micro_credential": "Micro-credential", "stack": "Stack", "pathway": "Pathway"}
# LinkedIn's "Add to Profile" for certifications: a plain link to the member's add-certification form, prefilled.
# Parameters as documented in "LinkedIn: Add To Profile for Certifications, Developer Docs"
# (https://addtoprofile.linkedin.com/; read at
# https://dokumen.tips/documents/linkedin-add-to-profile-for-certifications-to-profile-linkedin-add-to-profile.html):
# startTask=CERTIFICATION_NAME, name, organizationName (or organizationId), issueYear, issueMonth, expirationYear,
# expirationMonth, certUrl, certId.
LINKEDIN_ADD_TO_PROFILE = "https://www.linkedin.com/profile/add"


@dataclass(frozen=True)
class Download:
    href: str
    words: str  # the link's text: what the file is
    detail: str  # what it is for


@dataclass(frozen=True)
class Status:
    key: str  # active, suspended, revoked, expired, pending
    words: str  # the status as a word, shown as text (never by colour alone)
    detail: str


@dataclass(frozen=True)
class EarnedCredential:
    award_id: str
    name: str
    kind: str
    issuer: str
    issued_on: str
    valid_until: str
    status: Status
    share_url: str | None
    linkedin_url: str | None
    downloads: tuple[Download, ...]


def issuer_name(award: dict[str, Any]) -> str:
    document = award.get("credential")
    issuer = document.get("issuer") if isinstance(document, dict) else None
    return str(issuer.get("name") or "") if isinstance(issuer, dict) else ""


def status_of(award: dict[str, Any], now: datetime) -> Status:
    if award.get("status") != "issued":
        return Status("pending", "Being issued", "The credential is being signed; this takes a moment.")
    standing = award.get("standing", "active")
    reason = award.get("standing_reason") or ""
    since = day(award.get("standing_changed_at"))
    if standing == "revoked":
        return Status("revoked", "Revoked", f"Revoked on {since}. {reason}".strip())
    if standing == "suspended":
        return Status("suspended", "Suspended", f"Suspended on {since}. {reason}".strip())
    until = award.get("valid_until")
    if until and datetime.fromisoformat(until) <= now:
        return Status("expired", "Expired", f"Expired on {day(until)}.")
    return Status("active", "Active", f"Valid until {day(until)}." if until else "Does not expire.")


def linkedin_url(award: dict[str, Any], issuer: str) -> str:
    issued = datetime.fromisoformat(award["issued_at"])
    params: dict[str, str | int] = {"startTask": "CERTIFICATION_NAME", "name": award["credential_name"]}
    if issuer:
        params["organizationName"] = issuer
    params |= {"issueYear": issued.year, "issueMonth": issued.month}
    if award.get("valid_until"):
        until = datetime.fromisoformat(award["valid_until"])
        params |= {"expirationYear": until.year, "expirationMonth": until.month}
    params |= {"certUrl": award["page_url"], "certId": award["award_id"]}
    return f"{LINKEDIN_ADD_TO_PROFILE}?{urlencode(params)}"


def downloads(page_url: str) -> tuple[Download, ...]:
    base = page_url.rstrip("/")
    return (
        Download(f"{base}/credential.json", "credential.json", "the signed Open Badges 3.0 credential (JSON-LD)"),
        Download(f"{base}/credential.jwt", "credential.jwt", "the same credential as a JSON Web Token (VC-JWT)"),
        Download(f"{base}/badge.png", "badge.png", "the badge image with the credential baked in"),
        Download(f"{base}/badge.svg", "badge.svg", "the badge as a scalable image, credential baked in"),
    )


def earned(award: dict[str, Any], now: datetime) -> EarnedCredential:
    status = status_of(award, now)
    issuer = issuer_name(award)
    issued = status.key != "pending"
    return EarnedCredential(
        award_id=award["award_id"], name=award.get("credential_name") or "Credential",
        kind=KIND_WORDS.get(award.get("kind", ""), str(award.get("kind", "")).replace("_", " ").capitalize()),
        issuer=issuer, issued_on=day(award.get("issued_at")),
        valid_until=day(award.get("valid_until")),
        status=status,
        share_url=award["page_url"] if issued else None,
        # Only a credential in good standing is worth adding to a profile; its share page says the rest.
        linkedin_url=linkedin_url(award, issuer) if status.key == "active" else None,
        downloads=downloads(award["page_url"]) if issued else (),
    )


def earned_list(awards: list[dict[str, Any]], now: datetime) -> list[EarnedCredential]:
    """Newest first, as the teacher last earned them."""
    ordered = sorted(awards, key=lambda a: a.get("issued_at") or "", reverse=True)
    return [earned(award, now) for award in ordered]
