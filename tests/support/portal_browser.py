"""Helpers for the portal's browser tests (tests/portal): accessibility checks, screenshots, sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
# The flags /work/.library/env/machines/python.md gives for Chromium on these machines: as root (no sandbox), no
# GPU, and none of the background connections a closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEFINITION_FIELDS = {"name", "description", "competency", "key_method", "method_components", "research",
                     "submission_criteria", "rubric", "subjects", "grade_bands", "estimated_hours", "sponsor",
                     "alignments", "credit_hints", "expiry_months", "max_attempts"}


@dataclass
class PortalWorld:
    url: str
    unique: str
    issuer_id: str
    issuer_name: str
    credentials: dict[str, str]  # name -> id


def accessibility_violations(page: Page) -> tuple[int, str]:
    """axe-core in the page, WCAG 2.0 and 2.1 A and AA rules only: how many violations, and axe's report."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_A_AA}})
    return results.violations_count, results.generate_report()


def assert_accessible(page: Page) -> None:
    count, report = accessibility_violations(page)
    assert count == 0, f"{page.url}: {count} accessibility violations\n{report}"


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, world: PortalWorld, person: str = "Sample Teacher") -> None:
    page.goto(world.url + "/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_role("button", name=re.compile(re.escape(person))).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")

