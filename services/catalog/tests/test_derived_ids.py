"""Stack and pathway ids are derived from the issuer's key and their own key, so a program file outside the
catalog (licensure's recognition programs) names the same stack in every installation: created through the
API or through an import, the same (issuer, key) gives the same id; another issuer's same key does not."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from catalog_fakes import FakeUnitOfWork
from conftest import definition_data, publish

from microcred.catalog.domain.model import Issuer, StaffRole, pathway_id_for, stack_id_for
from microcred.catalog.service_layer import handlers
from microcred.catalog.service_layer.catalog_exchange import import_catalog
from microcred.runtime.auth import Principal, Role


def document(issuer_key: str) -> dict[str, Any]:
    """One issuer's credential, a stack and a pathway over it, keyed as the API test below keys them."""
    credential = definition_data() | {"key": "checking", "issuer": issuer_key}
    return {
        "issuers": [{"key": issuer_key, "name": f"Issuer {issuer_key}"}],
        "credentials": [credential],
        "stacks": [{"key": "formative", "issuer": issuer_key, "name": "Formative", "credentials": ["checking"]}],
        "pathways": [{"key": "formative-path", "issuer": issuer_key, "name": "Formative path",
                      "steps": [{"credential": "checking"}]}],
    }


async def created_through_the_api(issuer_key: str, operator: Principal) -> tuple[UUID, UUID]:
    uow = FakeUnitOfWork()
    issuer = Issuer(uuid4(), issuer_key, f"Issuer {issuer_key}", None, staff={"admin-1": StaffRole.ADMIN})
    uow.state.issuers[issuer.issuer_id] = issuer
    admin = Principal(subject="admin-1", roles=frozenset({Role.ISSUER_ADMIN}), organization=str(issuer.issuer_id))
    await publish(uow, issuer, admin, operator)
    (credential_id,) = uow.state.credentials
    stack = await handlers.create_stack(handlers.CreateStack(
        issuer_id=issuer.issuer_id, key="formative", name="Formative", credential_ids=[credential_id]), admin, uow)
    pathway = await handlers.create_pathway(handlers.CreatePathway.model_validate({
        "issuer_id": issuer.issuer_id, "key": "formative-path", "name": "Formative path",
        "steps": [{"credential_id": credential_id}]}), admin, uow)
    return stack.stack_id, pathway.pathway_id


async def imported(issuer_key: str, operator: Principal) -> tuple[UUID, UUID]:
    uow = FakeUnitOfWork()
    await import_catalog(document(issuer_key), operator, uow)
    (stack,) = uow.state.stacks.values()
    (pathway,) = uow.state.pathways.values()
    return stack.stack_id, pathway.pathway_id


async def test_the_same_key_gives_the_same_stack_and_pathway_id_through_the_api_and_through_an_import(
    operator: Principal,
) -> None:
    through_api = await created_through_the_api("digital-promise", operator)
    assert through_api == await imported("digital-promise", operator)
    assert through_api == (stack_id_for("digital-promise", "formative"), pathway_id_for("digital-promise",
                                                                                         "formative-path"))


async def test_another_issuers_same_key_gives_other_ids(operator: Principal) -> None:
    ours, theirs = await imported("digital-promise", operator), await imported("friday-institute", operator)
    assert ours[0] != theirs[0] and ours[1] != theirs[1]


def test_a_stack_and_a_pathway_of_the_same_key_get_different_ids() -> None:
    assert stack_id_for("digital-promise", "formative") != pathway_id_for("digital-promise", "formative")


def test_the_derivation_never_changes() -> None:
    """Program files in other services hold these ids: a change of namespace or of the name's form would
    silently unlink every one of them."""
    assert str(stack_id_for("digital-promise", "formative-assessment")) == "d28de608-1ee4-50c7-941c-3c99388159c6"
