"""Catalog HTTP API: translates requests into use cases and results into JSON. No rules here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status

from microcred.catalog.domain.model import CredentialVersion
from microcred.catalog.service_layer import handlers
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require
from microcred.runtime.errors import NotFound


def credential_view(credential: CredentialVersion) -> dict[str, Any]:
    definition = asdict(credential.definition)
    definition["research"] = [r.model_dump(mode="json") for r in credential.definition.research]
    definition["submission_criteria"] = credential.definition.submission_criteria.model_dump(mode="json")
    definition["rubric"] = credential.definition.rubric.model_dump(mode="json")
    return {
        "credential_id": str(credential.credential_id),
        "version": credential.version,
        "issuer_id": str(credential.issuer_id),
        "status": credential.status.value,
        **definition,
    }


def create_router(uow: Callable[[], CatalogUnitOfWork]) -> APIRouter:
    router = APIRouter()

    @router.post("/issuers", status_code=status.HTTP_201_CREATED, tags=["issuers"])
    async def create_issuer(
        body: handlers.CreateIssuer, _: Annotated[Principal, require(Role.OPERATOR)]
    ) -> dict[str, str]:
        issuer_id = await handlers.create_issuer(body, uow())
        return {"issuer_id": str(issuer_id)}

    @router.get("/issuers", tags=["issuers"])
    async def list_issuers(_: CurrentPrincipal) -> list[dict[str, Any]]:
        async with uow() as work:
            return [
                {"issuer_id": str(i.issuer_id), "name": i.name, "url": i.url, "email": i.email,
                 "description": i.description}
                for i in await work.issuers.list()
            ]

    @router.post("/credentials", status_code=status.HTTP_201_CREATED, tags=["credentials"])
    async def draft_credential(
        body: handlers.DraftCredential,
        principal: Annotated[Principal, require(Role.ISSUER_ADMIN, Role.OPERATOR)],
    ) -> dict[str, Any]:
        return credential_view(await handlers.draft_credential(body, principal, uow()))

    @router.post("/credentials/{credential_id}/publish", tags=["credentials"])
    async def publish_credential(
        credential_id: UUID,
        principal: Annotated[Principal, require(Role.ISSUER_ADMIN, Role.OPERATOR)],
        version: int | None = None,
    ) -> dict[str, Any]:
        return credential_view(await handlers.publish_credential(credential_id, version, principal, uow()))

    @router.get("/credentials", tags=["credentials"])
    async def list_credentials(
        _: CurrentPrincipal,
        status_filter: Annotated[str | None, Query(alias="status", pattern="^(draft|published|retired)$")] = "published",
        issuer_id: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        async with uow() as work:
            found = await work.credentials.list(status=status_filter, issuer_id=issuer_id, limit=limit, offset=offset)
            return [credential_view(c) for c in found]

    @router.get("/credentials/{credential_id}", tags=["credentials"])
    async def get_credential(credential_id: UUID, _: CurrentPrincipal, version: int | None = None) -> dict[str, Any]:
        async with uow() as work:
            credential = await work.credentials.get(credential_id, version)
            if credential is None:
                raise NotFound(f"credential {credential_id} does not exist", code="credential_not_found")
            return credential_view(credential)

    return router
