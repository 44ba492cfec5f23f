"""Python client for ``verifier.mjs``: Digital Bazaar's verifier as a long-lived helper process.

One node process serves every request of a test session (starting node and loading the libraries
costs far more than a verification). Requests and responses are single JSON lines, in order.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Self

HERE = Path(__file__).resolve().parent
_STAMP = HERE / "node_modules" / ".microcred-lock-sha256"


class InteropSetupError(RuntimeError):
    """node or npm is missing or failed: the interop harness cannot run."""


def node_available() -> bool:
    return shutil.which("node") is not None


def ensure_installed() -> None:
    """``npm ci`` when node_modules is missing or was installed from another package-lock.json."""
    lock = (HERE / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()
    if _STAMP.exists() and _STAMP.read_text().strip() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise InteropSetupError("npm is not on PATH; it installs tests/interop/node_modules")
    completed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=600, check=False
    )
    if completed.returncode != 0:
        raise InteropSetupError(f"npm ci failed in {HERE}:\n{completed.stdout}\n{completed.stderr}")
    _STAMP.write_text(digest)


class NodeHelper:
    """One of this folder's node scripts as a long-lived process answering JSON lines."""

    script = "verifier.mjs"

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise InteropSetupError("node is not on PATH")
        ensure_installed()
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [node, str(HERE / self.script)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            assert self._process.stdin is not None and self._process.stdout is not None
            self._process.stdin.write(json.dumps(payload) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            stderr = self._process.stderr.read() if self._process.stderr else ""
            raise InteropSetupError(f"{self.script} exited: {stderr}")
        response: dict[str, Any] = json.loads(line)
        if set(response) == {"error"}:
            raise InteropSetupError(f"{self.script} failed on {payload.get('op')!r}: {response['error']}")
        return response

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DigitalBazaarVerifier(NodeHelper):
    script = "verifier.mjs"

    def verify(
        self, credential: dict[str, Any], documents: dict[str, Any] | None = None, fetch: bool = False,
        now: str | None = None,
    ) -> dict[str, Any]:
        """``{"verified": bool, "errors": [...], "status": {"revocation": bool|None, "suspension": bool|None}}``."""
        return self.request(
            {"op": "verify", "credential": credential, "documents": documents or {}, "fetch": fetch, "now": now}
        )

    def sign(
        self, credential: dict[str, Any], *, secret_key_multibase: str, public_key_multibase: str,
        verification_method: str,
    ) -> dict[str, Any]:
        response = self.request({
            "op": "sign", "credential": credential, "secretKeyMultibase": secret_key_multibase,
            "publicKeyMultibase": public_key_multibase, "verificationMethod": verification_method,
        })
        return response["credential"]  # type: ignore[no-any-return]
