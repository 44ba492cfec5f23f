"""Award HTTP API: translates requests into use cases and results into JSON or pages. No rules here.

Everything a verifier needs is public and needs no login: the credential page and its downloads,
the issuer's controller document (its keys), the status lists, the achievements, and ``/verify``.
An award's public view leaves out the raw teacher id; credentials name the teacher by a salted hash
or their DID. Changing an award's standing and rotating keys need an operator or the issuer's admin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field
from starlette.convertors import StringConvertor, register_url_convertor

from microcred.award.adapters import baking
from microcred.award.domain.model import Award, AwardStatus, Standing, micro_achievement
from microcred.award.entrypoints import pages
from microcred.award.service_layer import handlers
from microcred.award.service_layer.signing import IssuingAuthority, VerificationReport
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.runtime.api import KIB, api_router, media
from microcred.runtime.api_types import Count, JsonDocument, Matching, Ordinal, PageOffset, RequestModel, Text
from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require
from microcred.runtime.errors import Invalid, NotFound

VC_MEDIA_TYPE = "application/vc"
# Open Badges 3.0's VC-JWT is a plain JWT with the credential in its ``vc`` claim (typ "JWT"), not
# VC-JOSE-COSE's application/vc+jwt, whose payload is the credential itself.
VC_JWT_MEDIA_TYPE = "application/jwt"
JWK_MEDIA_TYPE = "application/jwk+json"
JWK_SET_MEDIA_TYPE = "application/jwk-set+json"


# Response classes name the media type, so the OpenAPI document says what the body is.
class VcDocument(Response):
    media_type = VC_MEDIA_TYPE


class VcJwt(Response):
    media_type = VC_JWT_MEDIA_TYPE


class Jwk(Response):
    media_type = JWK_MEDIA_TYPE


class JwkSet(Response):
    media_type = JWK_SET_MEDIA_TYPE


class PngImage(Response):
    media_type = "image/png"


class SvgImage(Response):
    media_type = "image/svg+xml"
_ACHIEVEMENT_SEGMENTS = {"micro-credentials": "micro_credential", "stacks": "stack", "pathways": "pathway"}


class StandingChange(RequestModel):
    reason: Annotated[Text, Field(min_length=1, max_length=2000,
                                  description="Shown on the credential page and in the event.")]


KeyId = Annotated[str, Matching(r"^key-[A-Za-z0-9_-]+$"),
                  Path(max_length=64, description="The key id, as in key-20261122-1a2b3c4d")]


class KeyIdConvertor(StringConvertor):
    """A path segment that can be a key id: ``/issuers/{id}/keys/rotate`` must not also be a key's URL
    (its Allow header would list GET, and GET would look up a key named "rotate")."""

    regex = "key-[A-Za-z0-9_-]+"
Segment = Annotated[Text, Path(max_length=40, description="micro-credentials, stacks or pathways")]
Version = Annotated[Ordinal, Path()]
#: A signed credential with its results and evidence descriptions; a real one is a few kilobytes.
CREDENTIAL_BODY_LIMIT = 256 * KIB


def public_award_view(award: Award, authority: IssuingAuthority) -> dict[str, Any]:
    return {
        "award_id": str(award.award_id),
        "kind": award.kind,
        "status": award.status.value,
        "standing": award.standing.value,
        "standing_reason": award.standing_reason,
        "standing_changed_at": None if award.standing_changed_at is None else award.standing_changed_at.isoformat(),
        "credential_id": str(award.credential_id),
        "credential_version": award.credential_version,
        "credential_name": award.credential_name,
        "issuer_id": None if award.issuer_id is None else str(award.issuer_id),
        "issued_at": award.issued_at.isoformat(),
        "valid_until": None if award.valid_until is None else award.valid_until.isoformat(),
        "component_award_ids": [str(c) for c in award.component_award_ids],
        "page_url": authority.urls.credential(award.award_id),
        "credential_url": authority.urls.credential_json(award.award_id),
        "credential": award.credential,
    }


def award_view(award: Award, authority: IssuingAuthority) -> dict[str, Any]:
    return public_award_view(award, authority) | {
        "submission_id": None if award.submission_id is None else str(award.submission_id),
        "teacher_id": award.teacher_id,
        "states": list(award.states),
    }


@lru_cache(maxsize=512)
def _badge_png(title: str, issuer: str) -> bytes:
    # Rendering takes tens of milliseconds and the inputs repeat for every holder of a credential.
    return baking.badge_png(title=title, issuer=issuer)


@lru_cache(maxsize=512)
def _badge_svg(title: str, issuer: str) -> str:
    return baking.badge_svg(title=title, issuer=issuer)


def _issuer_name(document: dict[str, Any]) -> str:
    issuer = document.get("issuer")
    return str(issuer.get("name", "")) if isinstance(issuer, dict) else ""


def _download(content: bytes | str, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _slug(award: Award) -> str:
    name = "".join(c if c.isalnum() else "-" for c in (award.credential_name or "credential").lower())
    return "-".join(part for part in name.split("-") if part)[:60] or "credential"


def create_router(
    uow: Callable[[], AwardUnitOfWork], authority: IssuingAuthority, *, status_list_max_age: int = 300
) -> APIRouter:
    register_url_convertor("key_id", KeyIdConvertor())  # a process-wide table; registering again is a no-op
    router = api_router()
    urls = authority.urls

    @asynccontextmanager
    async def reading() -> AsyncIterator[AwardUnitOfWork]:
        """A unit of work for the public reads below, without BEGIN and ROLLBACK (``without_transaction``):
        each reads one row, or, verifying, a key and the status lists, each its own snapshot as it was at
        READ COMMITTED inside a transaction. None of them locks or writes."""
        async with uow() as work:
            await work.without_transaction()
            yield work

    async def issued(award_id: UUID) -> Award:
        async with reading() as work:
            award = await work.awards.get(award_id)
        # A pending award has no credential yet; to the public it does not exist.
        if award is None or award.status is not AwardStatus.ISSUED or award.credential is None:
            raise NotFound(f"award {award_id} does not exist", code="award_not_found")
        return award

    async def verify_document(document: dict[str, Any]) -> VerificationReport:
        async with reading() as work:
            return await authority.verify(work, document)

    @router.get("/awards/{award_id}", tags=["awards"])
    async def get_award(award_id: UUID) -> dict[str, Any]:
        return public_award_view(await issued(award_id), authority)

    @router.get("/awards", tags=["awards"])
    async def list_awards(
        principal: Annotated[Principal, require(Role.TEACHER, Role.OPERATOR)],
        limit: Annotated[Count, Query(ge=1, le=200)] = 50,
        offset: Annotated[PageOffset, Query()] = 0,
        teacher: Annotated[Text | None, Query(min_length=1, max_length=200,
                                              description="An operator's filter: this teacher's awards only")] = None,
    ) -> list[dict[str, Any]]:
        # A teacher lists their own awards, whatever they ask for; an operator lists everyone's, or one teacher's
        # (the portal's award search, where an operator handles a teacher's request to revoke or reinstate).
        teacher_id = teacher if principal.has(Role.OPERATOR) else principal.subject
        async with reading() as work:
            found = await work.awards.list(teacher_id=teacher_id, limit=limit, offset=offset)
        return [award_view(award, authority) for award in found]

    # -- the shared credential ---------------------------------------------------------------------

    @router.get("/credentials/{award_id}", tags=["credentials"], response_class=HTMLResponse, responses={
        404: {"description": "No such credential: a page that says so.", "content": {"text/html": {}}}})
    async def credential_page(award_id: UUID, verify: Annotated[bool, Query()] = False) -> HTMLResponse:
        try:
            award = await issued(award_id)
        except NotFound as error:
            return HTMLResponse(pages.render_not_found(str(error)), status_code=404)
        document = award.credential or {}
        report = await verify_document(document) if verify else None
        subject = document.get("credentialSubject", {})
        achievement = subject.get("achievement", {})
        status: pages.Status = "active"
        if award.standing is Standing.REVOKED:
            status = "revoked"
        elif award.standing is Standing.SUSPENDED:
            status = "suspended"
        elif award.valid_until is not None and award.valid_until <= datetime.now(UTC):
            status = "expired"
        issuer = document.get("issuer", {})
        page_url = urls.credential(award.award_id)
        page = pages.CredentialPage(
            title=award.credential_name or achievement.get("name", ""),
            description=achievement.get("description", ""),
            criteria=achievement.get("criteria", {}).get("narrative", ""),
            image_url=f"{page_url}/badge.png",
            issuer_name=_issuer_name(document),
            issuer_url=issuer.get("url") if isinstance(issuer, dict) else None,
            issued_at=award.issued_at,
            valid_until=award.valid_until,
            status=status,
            status_detail=award.standing_reason if status in ("revoked", "suspended") else None,
            results=tuple(pages.ResultLine(r.criterion_name, r.level_name) for r in award.results),
            checks=None if report is None else report.checks,
            verified=None if report is None else report.verified,
            page_url=page_url,
            verify_url=f"{page_url}?verify=1",
            json_url=urls.credential_json(award.award_id),
            png_url=f"{page_url}/badge.png",
            svg_url=f"{page_url}/badge.svg",
            jwt_url=f"{page_url}/credential.jwt",
            linkedin_url=pages.linkedin_add_to_profile_url(
                name=award.credential_name or "", organization_name=_issuer_name(document),
                issued_at=award.issued_at, valid_until=award.valid_until, cert_url=page_url,
                cert_id=str(award.award_id),
            ),
        )
        return HTMLResponse(pages.render_credential_page(page))

    @router.get("/credentials/{award_id}/credential.json", tags=["credentials"], response_class=VcDocument,
                responses=media(VC_MEDIA_TYPE, "The signed OpenBadgeCredential (JSON-LD), as a download.",
                                {"type": "object"}))
    async def credential_json(award_id: UUID) -> Response:
        award = await issued(award_id)
        return _download(json.dumps(award.credential, ensure_ascii=False, indent=2), VC_MEDIA_TYPE,
                         f"{_slug(award)}.json")

    @router.get("/credentials/{award_id}/credential.jwt", tags=["credentials"], response_class=VcJwt,
                responses=media(VC_JWT_MEDIA_TYPE, "The credential as a VC-JWT (compact JWS), as a download."))
    async def credential_jwt(award_id: UUID) -> Response:
        award = await issued(award_id)
        assert award.issuer_id is not None and award.credential is not None
        # Not a plain read: the first signature of an issuer creates its key under a lock (signing.py).
        async with uow() as work:
            token = await authority.sign_jwt(work, award.credential, award.issuer_id)
        return _download(token, VC_JWT_MEDIA_TYPE, f"{_slug(award)}.jwt")

    @router.get("/credentials/{award_id}/badge.png", tags=["credentials"], response_class=PngImage,
                responses=media("image/png", "The badge image with the credential baked in.",
                                {"type": "string", "format": "binary"}))
    async def credential_png(award_id: UUID) -> Response:
        award = await issued(award_id)
        assert award.credential is not None
        image = _badge_png(award.credential_name or "", _issuer_name(award.credential))
        return Response(baking.bake_png(image, award.credential), media_type="image/png",
                        headers={"Content-Disposition": f'inline; filename="{_slug(award)}.png"'})

    @router.get("/credentials/{award_id}/badge.svg", tags=["credentials"], response_class=SvgImage,
                responses=media("image/svg+xml", "The badge image with the credential baked in."))
    async def credential_svg(award_id: UUID) -> Response:
        award = await issued(award_id)
        assert award.credential is not None
        image = _badge_svg(award.credential_name or "", _issuer_name(award.credential))
        return Response(baking.bake_svg(image, award.credential), media_type="image/svg+xml",
                        headers={"Content-Disposition": f'inline; filename="{_slug(award)}.svg"'})

    @router.get("/credentials/{award_id}/verification", tags=["verification"])
    async def verify_award(award_id: UUID) -> dict[str, Any]:
        award = await issued(award_id)
        assert award.credential is not None
        return (await verify_document(award.credential)).as_json()

    @router.post("/verify", tags=["verification"], max_body_size=CREDENTIAL_BODY_LIMIT)
    async def verify_posted(credential: Annotated[JsonDocument, Body()]) -> dict[str, Any]:
        """Verify a credential document someone was shown: signature, issuer key, status, dates."""
        if "proof" not in credential:
            raise Invalid("the document has no proof: post the signed credential", code="unsigned_credential")
        return (await verify_document(credential)).as_json()

    # -- standing ------------------------------------------------------------------------------------

    def standing_route(action: Literal["revoke", "suspend", "reinstate"]) -> None:
        @router.post(f"/credentials/{{award_id}}/{action}", tags=["standing"], name=f"{action}_credential")
        async def change(award_id: UUID, change: StandingChange, principal: CurrentPrincipal) -> dict[str, Any]:
            award = await handlers.change_standing(award_id, action, change.reason, principal, uow(), authority)
            return public_award_view(award, authority)

    for action in ("revoke", "suspend", "reinstate"):
        standing_route(action)  # type: ignore[arg-type]

    # -- issuers, keys, status lists, achievements ------------------------------------------------------

    @router.get("/issuers/{issuer_id}", tags=["issuers"])
    async def issuer_document(issuer_id: UUID, response: Response) -> dict[str, Any]:
        """The issuer's controller document (W3C CID): every key that signs or signed for it, as Multikey methods."""
        async with reading() as work:
            document = await authority.controller_document(work, issuer_id)
        response.headers["Cache-Control"] = "public, max-age=300"
        return document

    @router.post("/issuers/{issuer_id}/keys/rotate", tags=["issuers"])
    async def rotate_key(issuer_id: UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        method = await handlers.rotate_key(issuer_id, principal, uow(), authority)
        return {"verification_method": method}

    @router.get("/issuers/{issuer_id}/keys/{key_id:key_id}", tags=["issuers"])
    async def key_document(issuer_id: UUID, key_id: KeyId, response: Response) -> dict[str, Any]:
        """One key as a Multikey document: what a proof's ``verificationMethod`` dereferences to."""
        async with reading() as work:
            document = await authority.key_document(work, issuer_id, key_id)
        # A key's material never changes (rotation makes a new key), so its document caches for a day.
        response.headers["Cache-Control"] = "public, max-age=86400"
        return document

    @router.get("/issuers/{issuer_id}/keys/{key_id:key_id}/jwk", tags=["issuers"], response_class=Jwk,
                responses=media(JWK_MEDIA_TYPE, "The key as a public JWK: what a VC-JWT's kid dereferences to.",
                                {"type": "object"}))
    async def key_jwk(issuer_id: UUID, key_id: KeyId) -> Response:
        async with reading() as work:
            jwk = await authority.key_jwk(work, issuer_id, key_id)
        return Response(json.dumps(jwk), media_type=JWK_MEDIA_TYPE, headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/issuers/{issuer_id}/jwks.json", tags=["issuers"], response_class=JwkSet,
                responses=media(JWK_SET_MEDIA_TYPE, "Every key of the issuer, retired ones too, as a JWK Set.",
                                {"type": "object"}))
    async def issuer_jwks(issuer_id: UUID) -> Response:
        async with reading() as work:
            jwks = await authority.jwks(work, issuer_id)
        return Response(json.dumps(jwks), media_type=JWK_SET_MEDIA_TYPE,
                        headers={"Cache-Control": "public, max-age=300"})

    @router.get("/status/{issuer_id}/{purpose}/{list_no}", tags=["status"], response_class=VcDocument,
                responses=media(VC_MEDIA_TYPE, "The status list credential (Bitstring Status List).",
                                {"type": "object"}) | {304: {"description": "Unchanged since the If-None-Match ETag."}})
    async def status_list(issuer_id: UUID, purpose: Literal["revocation", "suspension"],
                          list_no: Annotated[Count, Path()], request: Request) -> Response:
        async with reading() as work:
            found = await work.status_lists.get(issuer_id, purpose, list_no)
        if found is None:
            raise NotFound(f"status list {purpose}/{list_no} of issuer {issuer_id} does not exist",
                           code="status_list_not_found")
        body = json.dumps(found[1], separators=(",", ":")).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {
            "Cache-Control": f"public, max-age={status_list_max_age}",
            "ETag": etag,
            "Last-Modified": found[2].astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=VC_MEDIA_TYPE, headers=headers)

    @router.get("/achievements/{segment}/{achievement_id}/{version}", tags=["achievements"])
    async def achievement(segment: Segment, achievement_id: UUID, version: Version) -> dict[str, Any]:
        kind = _ACHIEVEMENT_SEGMENTS.get(segment)
        async with reading() as work:
            if kind == "micro_credential":
                credential = await work.credentials.get(achievement_id, version)
                if credential is not None:
                    return micro_achievement(credential, urls)
            elif kind is not None:
                collection = await work.collections.get(kind, achievement_id)
                if collection is not None and collection.revision >= version:
                    return {
                        "id": f"urn:uuid:{collection.achievement_uuid()}",
                        "type": ["Achievement"],
                        "achievementType": "Certificate",
                        "name": collection.name,
                        "description": collection.description,
                        "criteria": {
                            "id": urls.achievement(kind, achievement_id, version),  # type: ignore[arg-type]
                            "narrative": f"Earn every micro-credential of this {kind}.",
                        },
                        "requiredCredentials": [str(c) for c in collection.credential_ids],
                    }
        raise NotFound(f"achievement {segment}/{achievement_id}/{version} does not exist",
                       code="achievement_not_found")

    @router.get("/achievements/{segment}/{achievement_id}/{version}/image.png", tags=["achievements"],
                response_class=PngImage, responses=media("image/png", "The achievement's image.",
                                                          {"type": "string", "format": "binary"}))
    async def achievement_image(segment: Segment, achievement_id: UUID, version: Version) -> Response:
        issuer = ""
        if segment == "micro-credentials":
            async with reading() as work:
                credential = await work.credentials.get(achievement_id, version)
            if credential is None:
                raise NotFound(f"achievement {segment}/{achievement_id}/{version} does not exist",
                               code="achievement_not_found")
            name, issuer = credential.name, credential.issuer.name
        else:
            name = (await achievement(segment, achievement_id, version))["name"]
        return Response(_badge_png(name, issuer), media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})

    return router
