"""Sign and verify realistic OB 3.0 credentials with our Python code and with Digital Bazaar's, on this machine.

Ours: one process, one core, ``data_integrity.sign``/``verify`` (contexts warm). Theirs: the interop
harness's ``bench`` op, timed inside node so IPC is not counted (a per-request IPC figure is reported
too). Writes benchmarks/results/credential_signing.json. Usage: python benchmarks/credential_signing.py [-n 300]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from digital_bazaar import DigitalBazaarVerifier  # noqa: E402
from sample_credentials import Issuer, unsigned_credential  # noqa: E402

from microcred.award.adapters import data_integrity  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300)
    n = parser.parse_args().n
    issuer = Issuer()
    # 3 to 6 rubric results, each credential with its revocation status entry, as the service issues them.
    documents = [unsigned_credential(issuer, criteria=3 + i % 4, status_index=i) for i in range(n)]
    keys = {issuer.verification_method: issuer.key.public_key()}
    for document in documents[:10]:  # warm the context caches, as a running service has them
        data_integrity.verify(issuer.sign(document), resolve_key=keys.get)

    start = time.perf_counter()
    signed = [issuer.sign(document) for document in documents]
    sign_seconds = time.perf_counter() - start
    start = time.perf_counter()
    checks = [data_integrity.verify(document, resolve_key=keys.get) for document in signed]
    verify_seconds = time.perf_counter() - start
    assert all(check.verified for check in checks)

    with DigitalBazaarVerifier() as db:
        theirs: dict[str, Any] = {"sign_seconds": 0.0, "verify_seconds": 0.0}
        for criteria in (3, 4, 5, 6):  # the same mix of result counts as ours
            share = sum(1 for i in range(n) if 3 + i % 4 == criteria)
            result = db.request({
                "op": "bench", "n": share, "credential": unsigned_credential(issuer, criteria=criteria),
                "documents": {issuer.controller: issuer.controller_document(),
                              issuer.verification_method: issuer.key_document()},
                "secretKeyMultibase": data_integrity.secret_key_multibase(issuer.key),
                "publicKeyMultibase": data_integrity.public_key_multibase(issuer.key.public_key()),
                "verificationMethod": issuer.verification_method,
            })
            assert result["verified"], result
            theirs["sign_seconds"] += result["sign_seconds"]
            theirs["verify_seconds"] += result["verify_seconds"]
        sample = signed[: min(n, 100)]
        documents_for_db = issuer.documents()
        start = time.perf_counter()
        for document in sample:
            assert db.verify(document, documents_for_db)["verified"]
        ipc_verify_per_second = len(sample) / (time.perf_counter() - start)

    ours = {"signatures_per_second": n / sign_seconds, "verifications_per_second": n / verify_seconds}
    db_rates = {"signatures_per_second": n / theirs["sign_seconds"],
                "verifications_per_second": n / theirs["verify_seconds"],
                "verifications_per_second_over_ipc_with_status_check": ipc_verify_per_second}
    report = {
        "benchmark": "credential_signing",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "credentials": n,
        "credential": "OpenBadgeCredential as issued: 3-6 rubric results, hashed email, evidence, "
                      "BitstringStatusListEntry, eddsa-rdfc-2022 proof set of one",
        "ours_python": {key: round(value, 1) for key, value in ours.items()},
        "digital_bazaar_node": {key: round(value, 1) for key, value in db_rates.items()},
        "ratio_ours_over_db": {
            "sign": round(ours["signatures_per_second"] / db_rates["signatures_per_second"], 2),
            "verify": round(ours["verifications_per_second"] / db_rates["verifications_per_second"], 2),
        },
    }
    output = ROOT / "benchmarks" / "results" / "credential_signing.json"
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
