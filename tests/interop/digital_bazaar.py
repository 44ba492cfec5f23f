"""Python client for ``verifier.mjs``: Digital Bazaar's verifier as a long-lived helper process.

One node process serves every request of a test session (starting node and loading the libraries
costs far more than a verification). Requests and responses are single JSON lines, in order.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Self

from node_packages import NodeSetupError, node, npm_ci

HERE = Path(__file__).resolve().parent


class NodeHelper:
    """One of this folder's node scripts as a long-lived process answering JSON lines."""

    script = "verifier.mjs"

    def __init__(self) -> None:
        npm_ci(HERE)
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [node(), str(HERE / self.script)],
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
            raise NodeSetupError(f"{self.script} exited: {stderr}")
        response: dict[str, Any] = json.loads(line)
        if set(response) == {"error"}:
            raise NodeSetupError(f"{self.script} failed on {payload.get('op')!r}: {response['error']}")
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
