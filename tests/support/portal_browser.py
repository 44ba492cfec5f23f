"""Helpers for the portal's browser tests (tests/portal): accessibility checks, screenshots, sign-in, the keyboard,
people offered at sign-in, and the large real video the upload tests send in parts over a throttled connection."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from microcred.runtime.dev_oidc import Person, read_people, write_people

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


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """The page as test-artifacts/portal/<name>.png; ``full_page=False`` keeps to the viewport (a long page)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Page, world: PortalWorld, person: str = "Sample Teacher") -> None:
    page.goto(world.url + "/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_role("button", name=re.compile(re.escape(person))).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")



def signed_in_page(browser: Browser, world: PortalWorld, person: str) -> Page:
    """A fresh browser context (its own cookies: its own sign-in) with ``person`` signed in."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, world, person)
    return page


def offer_sign_in(directory: Path, person: Person) -> None:
    """Adds a person of a test's own to the development provider's people.json (read at every sign-in page), beside
    the sample people, so the test's work reaches nobody else's queue."""
    write_people(directory, [*[p for p in read_people(directory) if p.key != person.key], person])


def collect_browser_errors(page: Page) -> list[str]:
    """The page's script failures and console errors as they happen (anything its Content-Security-Policy blocked
    among them). Failed loads are left out: a refusal a test provokes is logged by the browser as one."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and not m.text.startswith("Failed to load resource") else None)
    return errors


# -- the keyboard --------------------------------------------------------------------------------------------------

_FOCUSED = """(() => { const e = document.activeElement;
    const label = e.labels && e.labels[0] ? e.labels[0].textContent : '';
    return [e.id || '', (label || '').trim(), (e.textContent || '').trim(), e.getAttribute('name') || '']; })()"""


def focused(page: Page) -> str:
    """The focused element's id, else its label's text, else its own text, else its name."""
    return next((d for d in page.evaluate(_FOCUSED) if d), "")


def tab_to(page: Page, pattern: str, limit: int = 80) -> None:
    """Tab (only) until the focused element's id, label, text or name matches ``pattern``; its focus must show."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if any(re.search(pattern, d) for d in page.evaluate(_FOCUSED) if d):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline not in ("none", ""), f"no visible focus on {focused(page)!r}"
            return
    raise AssertionError(f"Tab never reached {pattern!r}")


# -- uploads in parts ----------------------------------------------------------------------------------------------

def large_video(path: Path, seconds: float = 3.0) -> Path:
    """A real WebM (VP8, which Chromium plays) of noise frames that barely compress: three seconds at 640x480 come
    to about 12 MiB, so three parts of 5 MiB (the test platform's part size)."""
    import av  # only the tests that generate video need PyAV

    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.bit_rate = 200_000_000
        stream.codec_context.qmin, stream.codec_context.qmax = 0, 4
        for _ in range(round(seconds * 10)):
            frame = av.VideoFrame(640, 480, "yuv420p")
            for plane in frame.planes:
                plane.update(os.urandom(plane.line_size * plane.height))
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def throttle_uploads(page: Page, bytes_per_second: int) -> Callable[[], None]:
    """Chromium's own network emulation for the page's uploads (a slow connection, so that there is a midway to
    pause an upload at). Returns what lifts it, through the same DevTools session that set it."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")

    def conditions(upload: int) -> None:
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": upload})

    conditions(bytes_per_second)
    return lambda: conditions(-1)


def checked(page: Page, name: str) -> None:
    """The page is the one named (its only h1 matches ``name``) and axe finds nothing on it."""
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(name))
    assert page.locator("h1").count() == 1
    assert_accessible(page)
