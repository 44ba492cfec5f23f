"""The teacher's uploads in Chromium: a real video larger than the part size goes up in parts, is paused midway, the
page is reloaded, the same file is picked again and only the missing parts are sent; the service's verified size,
type and duration are shown; a WebVTT captions file uploaded with it plays as the preview's track. The incremental
SHA-256 the page computes matches the FIPS vectors and Python's hashlib."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from portal_browser import (
    PortalWorld,
    assert_accessible,
    collect_browser_errors,
    large_video,
    screenshot,
    sign_in,
    throttle_uploads,
)

from microcred.devstack.client import PlatformClient
from microcred.devstack.samples import QUICK_SERVICE_ENV, credential_definition
from microcred.runtime.auth import Role

KEY = "classroom-video"
CRITERIA = {"items": [
    {"key": KEY, "kind": "video", "title": "Classroom video", "max_count": 2, "max_duration_seconds": 120,
     "prompts": ["What did the class show you?"]},
]}
PART_SIZE = int(QUICK_SERVICE_ENV["MICROCRED_PART_SIZE_BYTES"])  # S3's smallest part, as the test platform runs
CAPTIONS = ("WEBVTT\n\n00:00.000 --> 00:01.500\nThumbs up if you agree, thumbs down if not.\n\n"
            "00:01.500 --> 00:03.000\nNow show me on your whiteboards.\n")


@pytest.fixture(scope="module")
def uploads_credential(client: PlatformClient, portal_world: PortalWorld) -> str:
    operator = client.operator(f"portal-up-op-{portal_world.unique}")
    admin = client.actor(f"portal-up-admin-{portal_world.unique}", Role.ISSUER_ADMIN,
                         organization=portal_world.issuer_id)
    definition = credential_definition(f"Captioned Checks {portal_world.unique}") | {"submission_criteria": CRITERIA}
    draft = client.draft_credential(admin, portal_world.issuer_id, definition)
    client.approve_and_publish(admin, operator, draft["credential_id"], 1)
    return str(draft["credential_id"])


def start_application(page: Page, world: PortalWorld, credential_id: str) -> str:
    sign_in(page, world)
    page.goto(world.url + f"/credentials/{credential_id}")
    page.get_by_role("button", name="Start an application").click()
    assert re.search(r"/applications/[0-9a-f-]{36}$", page.url)
    return page.url


def test_the_page_hashes_in_pieces_as_fips_and_hashlib_do(
        page: Page, portal_world: PortalWorld, uploads_credential: str) -> None:
    start_application(page, portal_world, uploads_credential)
    data = random.Random(20).randbytes(200_003)
    found: dict[str, Any] = page.evaluate("""async (data) => {
        const S = window.MicrocredSha256, text = s => new TextEncoder().encode(s);
        const inPieces = (bytes, sizes) => { const h = S.create(); let at = 0, i = 0;
            while (at < bytes.length) { const n = sizes[i++ % sizes.length]; h.update(bytes.subarray(at, at + n)); at += n; }
            return h.hex(); };
        const bytes = new Uint8Array(data);
        return {
            empty: S.create().hex(), abc: S.create().update(text("abc")).hex(),
            two_blocks: S.create().update(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex(),
            million_a: inPieces(new Uint8Array(1000000).fill(97), [997, 64, 1, 55]),
            random_whole: S.create().update(bytes).hex(),
            random_pieces: inPieces(bytes, [1, 63, 64, 65, 4096, 7]),
            random_blob: await S.ofBlob(new Blob([bytes]), null, 1000),
        };
    }""", list(data))
    assert found["empty"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert found["abc"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert found["two_blocks"] == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    assert found["million_a"] == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    assert found["random_whole"] == found["random_pieces"] == found["random_blob"] == hashlib.sha256(data).hexdigest()


def test_a_large_video_goes_up_in_parts_pauses_survives_a_reload_resumes_and_plays_with_its_captions(
        page: Page, portal_world: PortalWorld, uploads_credential: str, tmp_path: Path) -> None:
    video = large_video(tmp_path / "whiteboards.webm")
    size = video.stat().st_size
    assert size > 2 * PART_SIZE, "the video must need at least three parts"
    captions = tmp_path / "whiteboards.vtt"
    captions.write_text(CAPTIONS)
    browser_errors = collect_browser_errors(page)
    # Every PUT the page sends to the object store, counted from each page load.
    page.add_init_script("""window.sentPuts = []; const open = XMLHttpRequest.prototype.open;
        XMLHttpRequest.prototype.open = function (method, url) {
            if (method === 'PUT') { window.sentPuts.push(url); } return open.apply(this, arguments); };""")
    application_url = start_application(page, portal_world, uploads_credential)
    expect(page.get_by_text("Uploading needs JavaScript")).to_have_count(0)

    # A slow connection (3 MB/s up), so that there is a midway to pause at.
    lift_throttle = throttle_uploads(page, 3 * 1024 * 1024)
    bar = page.locator(f"#progress-{KEY}")
    status = page.locator(f"#upload-{KEY}-status")
    page.get_by_label("Add a file to “Classroom video”").set_input_files(str(video))
    # With the keyboard: Upload, then Pause (the next control once the upload runs in parts).
    page.get_by_role("button", name="Upload", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Pause upload")).to_be_visible()
    # Past the hashing (whose progress the same bar shows), so that the bar counts bytes sent.
    expect(status).to_have_text("Uploading whiteboards.webm…", timeout=30_000)
    expect(bar).to_have_attribute("value", re.compile(r"^(4[5-9]|[5-8]\d)$"), timeout=60_000)  # into the second part
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Pause upload")).to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_have_text(re.compile(r"^Paused at \d+%\. Press Resume upload"))
    expect(page.get_by_role("button", name="Resume upload")).to_be_focused()
    kept = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('microcred.upload.'))"
                         ".map(k => JSON.parse(localStorage.getItem(k)))")
    assert len(kept) == 1 and kept[0]["name"] == "whiteboards.webm" and kept[0]["size"] == size
    assert kept[0]["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest() and kept[0]["part_count"] == 3
    assert_accessible(page)
    screenshot(page, "upload-01-paused")

    # Reloaded: the page says what was interrupted and that the same file must be chosen again.
    lift_throttle()
    page.reload()
    expect(page.get_by_text(re.compile(r"An upload of “whiteboards\.webm” \(1\d\.\d MB\) was stopped"))).to_be_visible()
    expect(page.get_by_text(re.compile("Your browser cannot keep a file after the page is reloaded"))).to_be_visible()
    assert_accessible(page)
    screenshot(page, "upload-02-resume-after-reload")
    # The store's own word through the portal: the first part landed, the one under way at the pause did not.
    parts = page.request.get(page.url + f"/evidence/{kept[0]['evidence_id']}/parts").json()
    assert ([p["part_number"] for p in parts["uploaded"]], parts["missing"]) == ([1], [2, 3]), parts

    resume = page.get_by_role("button", name="Resume upload")
    resume.click()  # no file chosen yet: it says which one to choose
    expect(status).to_have_text("Choose “whiteboards.webm” again first, then press Resume upload.")
    other = tmp_path / "other.webm"
    other.write_bytes(video.read_bytes()[: size // 2])
    page.get_by_label("Add a file to “Classroom video”").set_input_files(str(other))
    resume.click()
    expect(status).to_contain_text("“other.webm” is not the file whose upload stopped")

    # The same file and its captions, chosen again, then Resume with the keyboard.
    page.get_by_label("Add a file to “Classroom video”").set_input_files(str(video))
    page.get_by_label(re.compile("^Captions for this video")).set_input_files(str(captions))
    page.get_by_label(re.compile("^Captions for this video")).focus()
    for _ in range(3):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Resume upload":
            break
    expect(resume).to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_have_text(re.compile(
        r"whiteboards\.webm: verified, 1\d\.\d MB, video/webm, 3\.0 seconds long\. Captions whiteboards\.vtt: "
        r"verified, WebVTT\."), timeout=60_000)
    expect(bar).to_have_attribute("value", "100")
    sent = page.evaluate("window.sentPuts")
    assert sorted(re.findall(r"partNumber=(\d+)", " ".join(sent))) == ["2", "3"] and len(sent) == 3, sent  # + captions
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('microcred.upload.')).length") == 0
    expect(page.get_by_text(re.compile("was stopped before it finished"))).to_be_hidden()

    # Opened again: the verified facts from the service, and the preview plays the captions as a track.
    page.goto(application_url)
    files = page.locator(f"[data-files='{KEY}']")
    expect(files).to_contain_text(re.compile(r"whiteboards\.webm: verified\. 1\d\.\d MB, video/webm, 3\.0 seconds long"))
    expect(files).to_contain_text("Captions whiteboards.vtt: verified.")
    expect(page.get_by_text("Everything required is here.")).to_have_count(0)  # a prompt is still unanswered
    summary = page.get_by_text("Watch “whiteboards.webm” with its captions")
    summary.focus()
    page.keyboard.press("Enter")
    player = page.locator("details.preview video")
    expect(player).to_be_visible()
    played = page.evaluate("""async () => {
        const video = document.querySelector('details.preview video'), track = video.textTracks[0];
        track.mode = 'showing';
        for (let i = 0; i < 100 && !(track.cues && track.cues.length && video.readyState >= 1); i++) {
            await new Promise(r => setTimeout(r, 100));
        }
        return { cues: track.cues ? track.cues.length : 0, first: track.cues && track.cues.length ? track.cues[0].text : null,
                 kind: track.kind, duration: video.duration, error: video.error && video.error.code };
    }""")
    assert played == {"cues": 2, "first": "Thumbs up if you agree, thumbs down if not.", "kind": "captions",
                      "duration": pytest.approx(3.0, abs=0.2), "error": None}, played
    # The same bytes back, through the portal's redirect to a short-lived URL of the store.
    href = page.get_by_role("link", name="download “whiteboards.webm”").get_attribute("href")
    downloaded = page.request.get(portal_world.url + str(href))
    assert downloaded.ok and hashlib.sha256(downloaded.body()).hexdigest() == kept[0]["sha256"]
    assert_accessible(page)
    screenshot(page, "upload-03-verified-with-captions")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page)
    screenshot(page, "upload-04-verified-phone")
    assert not browser_errors, browser_errors


def test_no_link_is_given_to_a_file_the_teacher_does_not_have(
        page: Page, portal_world: PortalWorld, uploads_credential: str) -> None:
    application_url = start_application(page, portal_world, uploads_credential)
    unknown = page.request.get(application_url + "/evidence/00000000-0000-4000-8000-000000000000/link")
    assert unknown.status == 404 and unknown.json()["saved"] is False
    assert page.request.get(application_url + "/evidence/not-an-id/file").status == 404
