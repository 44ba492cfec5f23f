"""Recognition programs: salary steps, designations, eligibility, incentives and equivalencies earned with
micro-credentials. ``programs`` holds the data, ``replay`` the outcomes a teacher's awards hold, ``evaluation``
the ledger entries that bring the ledger to them, ``ledger`` the entries and what they add up to."""

from microcred.licensure.domain.recognition.evaluation import Progress, evaluate, progress
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
from microcred.licensure.domain.recognition.replay import HeldAward, Memberships, Target, targets
from microcred.licensure.domain.recognition.review import next_change

__all__ = [
    "CompletePathway", "CompleteStack", "CountFromSet", "CredentialSet", "Eligibility", "EquivalencyHours",
    "HeldAward", "Holding", "IncentivePerCredential", "Memberships", "OutcomeSpec", "Program", "Progress",
    "RecognitionEntry", "Role", "Target", "decide", "evaluate", "holdings", "next_change", "program_in_force",
    "progress", "targets",
]
