"""The portal's first pages in Chromium: sign-in, catalog, a credential; accessibility, keyboard, failures."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from portal_browser import (
    PortalWorld,
    accessibility_violations,
    assert_accessible,
    focused,
    screenshot,
    sign_in,
    tab_to,
)

from microcred.devstack.platform import Platform

SIX_COMPONENTS = ["Competency", "Key method", "Method components", "Supporting research", "Submission criteria",
                  "Rubric"]


def test_a_teacher_signs_in_finds_a_credential_reads_it_and_signs_out(page: Page, context: BrowserContext,
                                                                       portal_world: PortalWorld) -> None:
    page.goto(portal_world.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Microcred")
    assert_accessible(page)
    screenshot(page, "01-start")
    page.get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    for person in ("Sample Teacher", "Reviewer (reviewer-1)", "Senior reviewer", "Issuer administrator",
                   "Platform operator", "State administrator", "District administrator"):
        expect(page.get_by_role("button", name=re.compile(re.escape(person)))).to_be_visible()
    assert_accessible(page)
    screenshot(page, "02-development-sign-in")
    page.get_by_role("button", name=re.compile("Sample Teacher")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    expect(page.get_by_text("Signed in as Sample Teacher")).to_be_visible()
    cookie = next(c for c in context.cookies() if c["name"] == "microcred-session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_label("Search").fill(portal_world.unique)
    page.get_by_label("Issuer").select_option(label=portal_world.issuer_name)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=2, name="2 credentials")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "03-catalog-search")
    page.get_by_label("Subject").fill("no-such-subject")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No credential matches this search.")).to_be_visible()
    expect(page.get_by_label("Search")).to_have_value(portal_world.unique)

    name = next(iter(portal_world.credentials))
    page.goto(portal_world.url + f"/catalog?q={portal_world.unique}")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    assert page.get_by_role("heading", level=2).all_inner_texts()[:6] == SIX_COMPONENTS
    expect(page.get_by_role("table").first).to_contain_text("Points")
    expect(page.get_by_text(re.compile(r"^Passing needs"))).to_be_visible()
    assert page.locator("h1").count() == 1
    assert_accessible(page)
    screenshot(page, "04-credential")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Microcred")
    page.goto(portal_world.url + "/catalog")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")  # the provider's page: signed out


def test_the_axe_check_fails_on_an_inaccessible_page(page: Page) -> None:
    page.set_content("<html><body><img src='chart.png'><input type='text'><a href='#'></a></body></html>")
    count, report = accessibility_violations(page)
    assert count >= 3, report
    for rule in ("image-alt", "label", "html-has-lang"):
        assert rule in report


def test_keyboard_only_sign_in_catalog_and_credential(page: Page, portal_world: PortalWorld) -> None:
    page.goto(portal_world.url + "/")
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to main content"
    tab_to(page, "^Sign in$")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    tab_to(page, "Sample Teacher")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    tab_to(page, "^q$")  # the search field
    page.keyboard.type(portal_world.unique)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2, name="2 credentials")).to_be_visible()
    name = next(iter(portal_world.credentials))
    tab_to(page, re.escape(name))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def test_a_refused_search_says_why_beside_the_field_and_keeps_the_input(page: Page,
                                                                         portal_world: PortalWorld) -> None:
    sign_in(page, portal_world)
    too_long = "fractions " * 21  # 210 characters: the catalog takes at most 200
    page.get_by_label("Search").fill(too_long)
    page.get_by_label("Grade band").fill("6-8")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#q-error")).to_have_text(re.compile(r"Use at most 200 characters \(you entered 210\)."))
    expect(page.get_by_label("Search")).to_have_value(too_long)
    expect(page.get_by_label("Search")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Grade band")).to_have_value("6-8")
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    assert page.title().startswith("Error: ")
    assert_accessible(page)
    screenshot(page, "05-catalog-refused")


def test_a_service_that_is_down_gets_a_page_that_says_so_and_keeps_the_form(
        page: Page, platform: Platform, portal_world: PortalWorld) -> None:
    sign_in(page, portal_world)
    platform.stop_service("catalog")
    try:
        page.get_by_label("Search").fill("fractions")
        with page.expect_response(re.compile(r"/catalog\?")) as answer:
            page.get_by_role("button", name="Search").click()
        assert answer.value.status == 503
        expect(page.get_by_role("alert")).to_contain_text("The catalog is not answering right now")
        expect(page.get_by_label("Search")).to_have_value("fractions")
        assert "Traceback" not in page.content()
        assert_accessible(page)
        screenshot(page, "06-catalog-down")
    finally:
        platform.restart_service("catalog")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_a_form_without_the_session_csrf_token_is_refused_and_changes_nothing(page: Page,
                                                                               portal_world: PortalWorld) -> None:
    sign_in(page, portal_world)
    forged = page.request.post(portal_world.url + "/sign-out", form={"csrf_token": "not-the-token"},
                                max_redirects=0)
    assert forged.status == 403
    missing = page.request.post(portal_world.url + "/sign-out", max_redirects=0)
    assert missing.status == 403
    page.goto(portal_world.url + "/catalog")
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")  # still signed in


def test_no_such_credential_and_no_such_page_are_plain_pages(page: Page, portal_world: PortalWorld) -> None:
    sign_in(page, portal_world)
    for path, title in (("/credentials/not-a-uuid", "Not found"),
                        ("/credentials/00000000-0000-4000-8000-000000000000", "Not found"),
                        ("/nowhere", "Page not found")):
        response = page.goto(portal_world.url + path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
    assert_accessible(page)


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/x"])
def test_sign_in_never_sends_a_person_off_site(page: Page, portal_world: PortalWorld, next_path: str) -> None:
    page.goto(portal_world.url + "/sign-in?next=" + next_path)
    page.get_by_role("button", name=re.compile("Sample Teacher")).click()
    assert page.url.startswith(portal_world.url + "/catalog")
