"""Recognition programs: salary steps, designations, eligibility, incentives and equivalencies earned with
micro-credentials. ``programs`` holds the data, ``evaluation`` what a teacher holds, ``ledger`` the entries."""

from microcred.licensure.domain.recognition.evaluation import (
    HeldAward,
    Memberships,
    Progress,
    Target,
    evaluate,
    progress,
    targets,
)
from microcred.licensure.domain.recognition.ledger import Holding, RecognitionEntry, decide, holdings
from microcred.licensure.domain.recognition.programs import (
    CompletePathway,
    CompleteStack,
    CountFromSet,
    CredentialSet,
    Eligibility,
    EquivalencyHours,
    IncentivePerCredential,
    OutcomeSpec,
    Program,
    Role,
    program_in_force,
)

__all__ = [
    "CompletePathway", "CompleteStack", "CountFromSet", "CredentialSet", "Eligibility", "EquivalencyHours",
    "HeldAward", "Holding", "IncentivePerCredential", "Memberships", "OutcomeSpec", "Program", "Progress",
    "RecognitionEntry", "Role", "Target", "decide", "evaluate", "holdings", "program_in_force", "progress",
    "targets",
]
