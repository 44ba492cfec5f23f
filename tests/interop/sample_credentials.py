"""Realistic Open Badges 3.0 credentials for the interop tests and the signing benchmark.

The unsigned document comes from the award service's own ``build_open_badge`` with the shape the
service issues: issuer id = the https controller URL, criteria and image URLs, a hashed email,
described evidence, and one revocation status entry (``statuses`` adds a suspension entry too, to
check that Digital Bazaar reads a suspension list the same way). The service signs it as a proof
set of one (OB 3.0 types ``proof`` as an array); ``Issuer.sign`` does the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from microcred.award.adapters import data_integrity, status_list
from microcred.award.domain.model import (
    CredentialVersion,
    PublicUrls,
    SubmittedAttempt,
    award_salt,
    build_open_badge,
)
from microcred.events import (
    Alignment,
    CriterionResult,
    IssuerProfile,
    PassingRule,
    Rubric,
    RubricCriterion,
    RubricLevel,
    SubmissionCriteria,
)

BASE_URL = "https://award.example"
LEVELS = (
    RubricLevel(key="beginning", name="Beginning", points=0, descriptor="Not yet observed in the lesson."),
    RubricLevel(key="developing", name="Developing", points=1, descriptor="Partly observed."),
    RubricLevel(key="proficient", name="Proficient", points=2, descriptor="Observed throughout the lesson."),
    RubricLevel(key="exemplary", name="Exemplary", points=3),
)
CRITERIA = (
    ("objectives", "Clear learning objectives"),
    ("checks", "Checks for understanding"),
    ("adjustment", "Adjusts instruction from evidence"),
    ("feedback", "Actionable feedback to students"),
    ("reflection", "Reflection on the data"),
    ("planning", "Next-lesson planning"),
)


@dataclass
class Issuer:
    """An issuer as the service keeps it: a controller URL, its signing key, its two status lists."""

    issuer_id: UUID = field(default_factory=uuid4)
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    key_id: str = "key-1"
    name: str = "Teaching Lab"

    @property
    def controller(self) -> str:
        return f"{BASE_URL}/issuers/{self.issuer_id}"

    @property
    def verification_method(self) -> str:
        return f"{self.controller}/keys/{self.key_id}"

    @property
    def fragment_method(self) -> str:
        """How proofs named the key before keys had their own URL."""
        return f"{self.controller}#{self.key_id}"

    def list_url(self, purpose: str) -> str:
        return f"{self.controller}/status/{purpose}"

    def controller_document(self) -> dict[str, Any]:
        public_key = self.key.public_key()
        return data_integrity.controller_document(
            self.controller, [(self.verification_method, public_key), (self.fragment_method, public_key)]
        )

    def key_document(self) -> dict[str, Any]:
        return data_integrity.key_document(self.verification_method, self.controller, self.key.public_key())

    def status_list(self, purpose: str, set_indexes: tuple[int, ...] = (), *, valid_from: datetime | None = None,
                    valid_until: datetime | None = None) -> dict[str, Any]:
        bits = status_list.new_list()
        for index in set_indexes:
            status_list.set_bit(bits, index, True)
        unsigned = status_list.status_list_credential(
            list_url=self.list_url(purpose), issuer=self.controller, purpose=purpose, bits=bits,
            valid_from=valid_from or datetime(2025, 1, 1, tzinfo=UTC), valid_until=valid_until,
        )
        return self.sign(unsigned)

    def sign(self, document: dict[str, Any], created: datetime | None = None, *,
             verification_method: str | None = None) -> dict[str, Any]:
        signed = data_integrity.sign(document, key=self.key,
                                     verification_method=verification_method or self.verification_method,
                                     created=created or datetime(2025, 3, 4, 15, 30, 5, tzinfo=UTC))
        return signed | {"proof": [signed["proof"]]}

    def documents(self, *, revoked: tuple[int, ...] = (), suspended: tuple[int, ...] = ()) -> dict[str, Any]:
        """What a verifier dereferences: the key, the controller document and both status list credentials."""
        return {
            self.verification_method: self.key_document(),
            self.controller: self.controller_document(),
            self.list_url("revocation"): self.status_list("revocation", revoked),
            self.list_url("suspension"): self.status_list("suspension", suspended),
        }


def credential_version(issuer: Issuer, criteria: int = 4, *, expiry_months: int | None = 36) -> CredentialVersion:
    rubric = Rubric(
        criteria=tuple(RubricCriterion(key=key, name=name, levels=LEVELS) for key, name in CRITERIA[:criteria]),
        passing_rule=PassingRule(kind="all_criteria_at_least", level="proficient"),
    )
    credential_id = uuid5(issuer.issuer_id, "formative-assessment")
    return CredentialVersion(
        credential_id=credential_id,
        version=2,
        issuer=IssuerProfile(issuer_id=issuer.issuer_id, name=issuer.name, url="https://lab.example.org",
                             email="badges@lab.example.org", description="Professional learning for teachers."),
        name="Formative Assessment in Practice",
        description="The educator modifies instruction during a lesson using formative assessment data.",
        competency="Uses checks for understanding to adjust instruction within the lesson.",
        rubric=rubric,
        submission_criteria=SubmissionCriteria.model_validate(
            {"items": [{"key": "video", "kind": "video", "title": "Video of the lesson"}]}
        ),
        alignments=(
            Alignment(target_name="InTASC Standard 6: Assessment", target_framework="InTASC",
                      target_code="6", target_url="https://ccsso.org/intasc", target_type="CFItem"),
        ),
        image_url="https://award.example/images/formative.png",
        expiry_months=expiry_months,
    )


def unsigned_credential(
    issuer: Issuer,
    *,
    criteria: int = 4,
    status_index: int = 17,
    issued_at: datetime | None = None,
    expiry_months: int | None = 36,
    award_id: UUID | None = None,
    statuses: tuple[str, ...] = ("revocation",),
) -> dict[str, Any]:
    version = credential_version(issuer, criteria, expiry_months=expiry_months)
    results = tuple(
        CriterionResult(criterion_key=criterion.key, criterion_name=criterion.name, level_key="proficient",
                        level_name="Proficient", points=2)
        for criterion in version.rubric.criteria
    )
    award_id = award_id or uuid4()
    attempt = SubmittedAttempt(submission_id=uuid4(), attempt=1, teacher_id="teacher-42",
                               teacher_email="teacher.42@schools.example", teacher_did=None,
                               evidence=(("video", 1, 612.0),), responses=())
    entries = [status_list.status_entry(issuer.list_url(purpose), purpose, status_index)  # type: ignore[arg-type]
               for purpose in statuses]
    document = build_open_badge(
        award_id=award_id, issued_at=issued_at or datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        teacher_id="teacher-42", identity_salt=award_salt("identity-secret-0123456789", award_id),
        credential=version, results=results, identity=attempt,
        evidence=attempt.describe(version.submission_criteria), urls=PublicUrls(BASE_URL),
        credential_status=entries[0] if len(entries) == 1 else None,
    )
    assert document["issuer"]["id"] == issuer.controller
    if len(entries) > 1:
        document["credentialStatus"] = entries  # VC 2.0 allows several; OB 3.0 (and the service) one
    return document
