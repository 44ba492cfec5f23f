"""Catalog HTTP API: translates requests into use cases and results into JSON. No rules here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Response, status

from microcred.catalog.adapters.repository import CredentialQuery
from microcred.catalog.domain.model import CredentialVersion, Issuer, Pathway, Stack, Transition, VersionStatus
from microcred.catalog.service_layer import catalog_exchange, handlers
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.runtime.api import MIB, api_router, links
from microcred.runtime.api_types import Count, JsonDocument, Matching, Ordinal, PageOffset, Text
from microcred.runtime.auth import CurrentPrincipal, Principal, Role, require
from microcred.runtime.errors import NotFound

Operator = Annotated[Principal, require(Role.OPERATOR)]
Manager = Annotated[Principal, require(Role.ISSUER_ADMIN, Role.OPERATOR)]
STATUS_PATTERN = "^(" + "|".join(s.value for s in VersionStatus) + ")$"
Version = Annotated[Ordinal, Path(description="The version number, from 1.")]
Facet = Annotated[Text, Query(max_length=300)]
#: A credential definition carries research, rubric and prompts as prose; a whole catalog carries many.
DEFINITION_BODY_LIMIT = 1 * MIB
CATALOG_BODY_LIMIT = 32 * MIB
# Parameters an OpenAPI link takes from a created resource (see runtime.api.links).
ISSUER = {"issuer_id": "$response.body#/issuer_id"}
CREDENTIAL = {"credential_id": "$response.body#/credential_id"}
VERSION = CREDENTIAL | {"version": "$response.body#/version"}


def issuer_view(issuer: Issuer) -> dict[str, Any]:
    return {
        "issuer_id": str(issuer.issuer_id), "key": issuer.key, "name": issuer.name, "url": issuer.url,
        "email": issuer.email, "description": issuer.description, "image_url": issuer.image_url,
    }


def credential_view(version: CredentialVersion) -> dict[str, Any]:
    return {
        "credential_id": str(version.credential_id),
        "version": version.version,
        "issuer_id": str(version.issuer_id),
        "status": version.status.value,
        "key": version.key,
        **version.definition.model_dump(mode="json"),
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "published_at": version.published_at.isoformat() if version.published_at else None,
        "retired_at": version.retired_at.isoformat() if version.retired_at else None,
    }


def transition_view(transition: Transition) -> dict[str, Any]:
    return {
        "version": transition.version,
        "from": transition.from_status.value if transition.from_status else None,
        "to": transition.to_status.value,
        "actor": transition.actor,
        "reason": transition.reason,
        "at": transition.at.isoformat(),
    }


def stack_view(stack: Stack) -> dict[str, Any]:
    return {
        "stack_id": str(stack.stack_id), "issuer_id": str(stack.issuer_id), "key": stack.key, "name": stack.name,
        "description": stack.description, "credential_ids": [str(c) for c in stack.credential_ids],
        "revision": stack.revision, "active": stack.active,
    }


def pathway_view(pathway: Pathway) -> dict[str, Any]:
    return {
        "pathway_id": str(pathway.pathway_id), "issuer_id": str(pathway.issuer_id), "key": pathway.key,
        "name": pathway.name, "description": pathway.description,
        "steps": [
            {"credential_id": str(s.credential_id), "prerequisites": [str(p) for p in s.prerequisites]}
            for s in pathway.steps
        ],
        "revision": pathway.revision, "active": pathway.active,
    }


def create_router(uow: Callable[[], CatalogUnitOfWork]) -> APIRouter:
    router = api_router()

    # -- issuers ------------------------------------------------------------------------------------

    @router.post("/issuers", status_code=status.HTTP_201_CREATED, tags=["issuers"], responses=links(
        201, **{op: ISSUER for op in ("get_issuer", "update_issuer", "add_staff", "list_staff")}))
    async def create_issuer(body: handlers.CreateIssuer, _: Operator) -> dict[str, Any]:
        return issuer_view(await handlers.create_issuer(body, uow()))

    @router.get("/issuers", tags=["issuers"])
    async def list_issuers(principal: CurrentPrincipal, manageable: Annotated[bool, Query(description=(
            "Only the issuers the caller may author for (an issuer admin's own; every issuer for an operator)."
            ))] = False) -> list[dict[str, Any]]:
        return [issuer_view(i) for i in await handlers.list_issuers(principal, manageable, uow())]

    @router.get("/issuers/{issuer_id}", tags=["issuers"])
    async def get_issuer(issuer_id: UUID, _: CurrentPrincipal) -> dict[str, Any]:
        return issuer_view(await handlers.read_issuer(issuer_id, uow()))

    @router.patch("/issuers/{issuer_id}", tags=["issuers"])
    async def update_issuer(issuer_id: UUID, body: handlers.UpdateIssuer, principal: Manager) -> dict[str, Any]:
        return issuer_view(await handlers.update_issuer(issuer_id, body, principal, uow()))

    @router.post("/issuers/{issuer_id}/staff", status_code=status.HTTP_201_CREATED, tags=["issuers"])
    async def add_staff(issuer_id: UUID, body: handlers.AddStaff, principal: Manager) -> dict[str, Any]:
        await handlers.add_staff(issuer_id, body, principal, uow())
        return {"issuer_id": str(issuer_id), "subject": body.subject, "role": body.role}

    @router.get("/issuers/{issuer_id}/staff", tags=["issuers"])
    async def list_staff(issuer_id: UUID, principal: Manager) -> list[dict[str, Any]]:
        staff = await handlers.staff_of(issuer_id, principal, uow())
        return [{"issuer_id": str(issuer_id), "subject": s, "role": r.value} for s, r in sorted(staff.items())]

    @router.delete("/issuers/{issuer_id}/staff/{subject}", status_code=status.HTTP_204_NO_CONTENT, tags=["issuers"])
    async def remove_staff(issuer_id: UUID, subject: Annotated[Text, Path(max_length=200)], principal: Manager
                           ) -> Response:
        await handlers.remove_staff(issuer_id, subject, principal, uow())
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # -- credentials and their versions --------------------------------------------------------------

    @router.post("/credentials", status_code=status.HTTP_201_CREATED, tags=["credentials"],
                 max_body_size=DEFINITION_BODY_LIMIT, responses=links(
                     201, get_credential=CREDENTIAL, list_versions=CREDENTIAL,
                     open_version=CREDENTIAL, **{op: VERSION for op in (
                         "edit_version", "submit_for_review", "request_changes", "approve", "publish", "retire",
                         "history")}))
    async def draft_credential(body: handlers.DraftCredential, principal: Manager) -> dict[str, Any]:
        return credential_view(await handlers.draft_credential(body, principal, uow()))

    @router.get("/credentials", tags=["credentials"])
    async def search_credentials(
        principal: CurrentPrincipal,
        q: Annotated[Text | None, Query(max_length=200)] = None,
        issuer_id: UUID | None = None,
        stack_id: UUID | None = None,
        subject: Facet | None = None,
        grade_band: Facet | None = None,
        alignment: Facet | None = None,
        status_filter: Annotated[str, Matching(STATUS_PATTERN), Query(alias="status")] = "published",
        limit: Annotated[Count, Query(ge=1, le=200)] = 50,
        offset: Annotated[PageOffset, Query()] = 0,
    ) -> dict[str, Any]:
        async with uow() as work:
            # The page and its total in one statement (CredentialRepository.search).
            await work.without_transaction()
            issuer_ids: set[UUID] | None = None if issuer_id is None else {issuer_id}
            if VersionStatus(status_filter).is_open:
                # Unpublished versions are their issuer's business: narrow to the issuers the caller manages.
                manageable = await handlers.manageable_issuers(principal, work)
                if manageable is not None:
                    issuer_ids = manageable if issuer_ids is None else issuer_ids & manageable
            credential_ids = None
            if stack_id is not None:
                stack = await work.stacks.get(stack_id)
                credential_ids = list(stack.credential_ids) if stack is not None else []
            found, total = await work.credentials.search(CredentialQuery(
                status=status_filter, text=q or None, issuer_ids=None if issuer_ids is None else list(issuer_ids),
                credential_ids=credential_ids, subject=subject, grade_band=grade_band, alignment=alignment,
                limit=limit, offset=offset,
            ))
        return {"items": [credential_view(c) for c in found], "total": total, "limit": limit, "offset": offset}

    @router.get("/credentials/{credential_id}", tags=["credentials"])
    async def get_credential(credential_id: UUID, principal: CurrentPrincipal,
                             version: Annotated[Ordinal | None, Query()] = None) -> dict[str, Any]:
        return credential_view(await handlers.read_version(credential_id, version, principal, uow()))

    @router.get("/credentials/{credential_id}/versions", tags=["credentials"])
    async def list_versions(credential_id: UUID, principal: CurrentPrincipal) -> list[dict[str, Any]]:
        return [credential_view(v) for v in await handlers.list_versions(credential_id, principal, uow())]

    @router.post("/credentials/{credential_id}/versions", status_code=status.HTTP_201_CREATED, tags=["credentials"])
    async def open_version(credential_id: UUID, principal: Manager) -> dict[str, Any]:
        return credential_view(await handlers.open_version(credential_id, principal, uow()))

    @router.put("/credentials/{credential_id}/versions/{version}", tags=["credentials"],
                max_body_size=DEFINITION_BODY_LIMIT)
    async def edit_version(
        credential_id: UUID, version: Version, body: handlers.DefinitionBody, principal: Manager
    ) -> dict[str, Any]:
        return credential_view(
            await handlers.edit_version(credential_id, version, body.definition(), principal, uow())
        )

    @router.post("/credentials/{credential_id}/versions/{version}/submit-for-review", tags=["workflow"])
    async def submit_for_review(
        credential_id: UUID, version: Version, principal: Manager,
        body: Annotated[handlers.SubmitForReview | None, Body()] = None,
    ) -> dict[str, Any]:
        command = body or handlers.SubmitForReview()
        return credential_view(await handlers.submit_for_review(credential_id, version, command, principal, uow()))

    @router.post("/credentials/{credential_id}/versions/{version}/request-changes", tags=["workflow"])
    async def request_changes(
        credential_id: UUID, version: Version, body: handlers.RequestChanges, principal: Operator
    ) -> dict[str, Any]:
        return credential_view(await handlers.request_changes(credential_id, version, body, principal, uow()))

    @router.post("/credentials/{credential_id}/versions/{version}/approve", tags=["workflow"])
    async def approve(credential_id: UUID, version: Version, body: handlers.Approve, principal: Operator) -> dict[str, Any]:
        return credential_view(await handlers.approve(credential_id, version, body, principal, uow()))

    @router.post("/credentials/{credential_id}/versions/{version}/publish", tags=["workflow"])
    async def publish(credential_id: UUID, version: Version, principal: Manager) -> dict[str, Any]:
        return credential_view(await handlers.publish(credential_id, version, principal, uow()))

    @router.post("/credentials/{credential_id}/versions/{version}/retire", tags=["workflow"])
    async def retire(credential_id: UUID, version: Version, body: handlers.Retire, principal: Manager) -> dict[str, Any]:
        return credential_view(await handlers.retire(credential_id, version, body, principal, uow()))

    @router.get("/credentials/{credential_id}/versions/{version}/history", tags=["workflow"])
    async def history(credential_id: UUID, version: Version, principal: CurrentPrincipal) -> list[dict[str, Any]]:
        return [transition_view(t) for t in await handlers.history(credential_id, version, principal, uow())]

    # -- stacks -------------------------------------------------------------------------------------

    @router.post("/stacks", status_code=status.HTTP_201_CREATED, tags=["stacks"], responses=links(
        201, **{op: {"stack_id": "$response.body#/stack_id"} for op in ("get_stack", "update_stack", "delete_stack")}))
    async def create_stack(body: handlers.CreateStack, principal: Manager) -> dict[str, Any]:
        return stack_view(await handlers.create_stack(body, principal, uow()))

    @router.get("/stacks", tags=["stacks"])
    async def list_stacks(_: CurrentPrincipal, issuer_id: UUID | None = None) -> list[dict[str, Any]]:
        async with uow() as work:
            await work.without_transaction()
            return [stack_view(s) for s in await work.stacks.list_all(issuer_id=issuer_id)]

    @router.get("/stacks/{stack_id}", tags=["stacks"])
    async def get_stack(stack_id: UUID, _: CurrentPrincipal) -> dict[str, Any]:
        async with uow() as work:
            await work.without_transaction()
            stack = await work.stacks.get(stack_id)
        if stack is None or not stack.active:
            raise NotFound(f"stack {stack_id} does not exist", code="stack_not_found")
        return stack_view(stack)

    @router.put("/stacks/{stack_id}", tags=["stacks"])
    async def update_stack(stack_id: UUID, body: handlers.StackBody, principal: Manager) -> dict[str, Any]:
        return stack_view(await handlers.update_stack(stack_id, body, principal, uow()))

    @router.delete("/stacks/{stack_id}", tags=["stacks"])
    async def delete_stack(stack_id: UUID, principal: Manager) -> dict[str, Any]:
        return stack_view(await handlers.delete_stack(stack_id, principal, uow()))

    # -- pathways -----------------------------------------------------------------------------------

    @router.post("/pathways", status_code=status.HTTP_201_CREATED, tags=["pathways"], responses=links(
        201, **{op: {"pathway_id": "$response.body#/pathway_id"}
                for op in ("get_pathway", "update_pathway", "delete_pathway")}))
    async def create_pathway(body: handlers.CreatePathway, principal: Manager) -> dict[str, Any]:
        return pathway_view(await handlers.create_pathway(body, principal, uow()))

    @router.get("/pathways", tags=["pathways"])
    async def list_pathways(_: CurrentPrincipal, issuer_id: UUID | None = None) -> list[dict[str, Any]]:
        async with uow() as work:
            await work.without_transaction()
            return [pathway_view(p) for p in await work.pathways.list_all(issuer_id=issuer_id)]

    @router.get("/pathways/{pathway_id}", tags=["pathways"])
    async def get_pathway(pathway_id: UUID, _: CurrentPrincipal) -> dict[str, Any]:
        async with uow() as work:
            await work.without_transaction()
            pathway = await work.pathways.get(pathway_id)
        if pathway is None or not pathway.active:
            raise NotFound(f"pathway {pathway_id} does not exist", code="pathway_not_found")
        return pathway_view(pathway)

    @router.put("/pathways/{pathway_id}", tags=["pathways"])
    async def update_pathway(pathway_id: UUID, body: handlers.PathwayBody, principal: Manager) -> dict[str, Any]:
        return pathway_view(await handlers.update_pathway(pathway_id, body, principal, uow()))

    @router.delete("/pathways/{pathway_id}", tags=["pathways"])
    async def delete_pathway(pathway_id: UUID, principal: Manager) -> dict[str, Any]:
        return pathway_view(await handlers.delete_pathway(pathway_id, principal, uow()))

    # -- whole catalog ------------------------------------------------------------------------------

    @router.get("/catalog/export", tags=["catalog"])
    async def export_catalog(_: Operator) -> dict[str, Any]:
        return await catalog_exchange.export_catalog(uow())

    @router.post("/catalog/import", tags=["catalog"], max_body_size=CATALOG_BODY_LIMIT)
    async def import_catalog(document: Annotated[JsonDocument, Body()], principal: Operator) -> dict[str, int]:
        """Import a catalog document (format: CATALOG_FORMAT.md); all or nothing, 422 invalid_catalog with
        located problems."""
        return (await catalog_exchange.import_catalog(document, principal, uow())).model_dump()

    return router
