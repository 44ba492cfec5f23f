"""The public credential page: safe with hostile text, honest about status, shareable without JavaScript."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from microcred.award.entrypoints.pages import (
    Check,
    CredentialPage,
    ResultLine,
    linkedin_add_to_profile_url,
    render_credential_page,
    render_not_found,
)

BASE = "https://awards.example.org/credentials/6f1c9f0e"
HOSTILE = '<script>alert("x")</script>'


def page(**overrides: object) -> CredentialPage:
    fields: dict[str, object] = {
        "title": "Checking for Understanding",
        "description": "Uses quick checks to adjust instruction.",
        "criteria": "The educator checks for understanding and adjusts instruction.",
        "image_url": f"{BASE}/badge.png",
        "issuer_name": "Teaching Lab",
        "issuer_url": "https://lab.example.org/",
        "issued_at": datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        "valid_until": datetime(2028, 3, 4, 15, 30, tzinfo=UTC),
        "status": "active",
        "status_detail": None,
        "results": (ResultLine("Planning", "Exemplary"), ResultLine("Student feedback", "Proficient")),
        "checks": None,
        "verified": None,
        "page_url": BASE,
        "verify_url": f"{BASE}?verify=1",
        "json_url": f"{BASE}/credential.json",
        "png_url": f"{BASE}/badge.png",
        "svg_url": f"{BASE}/badge.svg",
        "jwt_url": None,
        "linkedin_url": "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&name=x",
    }
    return CredentialPage(**(fields | overrides))  # type: ignore[arg-type]


class Elements(HTMLParser):
    """Every start tag with its attributes, so tests ask about elements rather than grep markup."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def meta(html: str, prop: str) -> str | None:
    (found,) = Elements(html).find("meta", property=prop)
    return found["content"]


# -- escaping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "description", "criteria", "issuer_name", "status_detail"])
def test_hostile_text_in_any_field_is_escaped_never_executed(field: str) -> None:
    html = render_credential_page(page(**{field: HOSTILE, "status": "revoked"}))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_hostile_result_and_check_text_is_escaped() -> None:
    html = render_credential_page(page(
        results=(ResultLine(HOSTILE, HOSTILE),), checks=(Check(HOSTILE, False, HOSTILE),), verified=False,
    ))
    assert "<script>" not in html


def test_a_quote_in_the_title_cannot_break_out_of_an_attribute() -> None:
    html = render_credential_page(page(title='A" onload="alert(1)'))
    assert 'onload="alert(1)"' not in html
    assert meta(html, "og:title") == 'A" onload="alert(1)'


def test_a_javascript_issuer_url_is_not_linked() -> None:
    html = render_credential_page(page(issuer_url="javascript:alert(1)"))
    assert "javascript:" not in html
    assert "<strong>Teaching Lab</strong>" in html


def test_an_http_issuer_url_is_linked() -> None:
    assert Elements(render_credential_page(page())).find("a", href="https://lab.example.org/")


def test_the_not_found_page_escapes_its_message() -> None:
    html = render_not_found(f"No credential {HOSTILE}")
    assert "<script>" not in html and "No credential &lt;script&gt;" in html
    assert Elements(html).find("meta", name="robots", content="noindex")


# -- what the page shows -----------------------------------------------------------------------


def test_the_page_shows_title_issuer_dates_and_results() -> None:
    html = render_credential_page(page())
    assert "<h1>Checking for Understanding</h1>" in html
    assert '<time datetime="2025-03-04T15:30:00Z">4 March 2025</time>' in html
    assert '<time datetime="2028-03-04T15:30:00Z">4 March 2028</time>' in html
    assert re.search(r"<th scope=\"row\">Planning</th><td>Exemplary</td>", html)
    assert Elements(html).find("img", src=f"{BASE}/badge.png")


def test_dates_are_shown_in_utc() -> None:
    late_evening_in_new_york = datetime(2025, 3, 4, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    html = render_credential_page(page(issued_at=late_evening_in_new_york))
    assert '<time datetime="2025-03-05T03:00:00Z">5 March 2025</time>' in html


def test_a_credential_without_expiry_says_it_does_not_expire() -> None:
    assert "Does not expire" in render_credential_page(page(valid_until=None))


def test_the_image_has_alt_text_naming_the_credential() -> None:
    (image,) = Elements(render_credential_page(page())).find("img")
    assert image["alt"] == "Badge: Checking for Understanding, issued by Teaching Lab"


def test_open_graph_tags_describe_the_credential_with_absolute_urls() -> None:
    html = render_credential_page(page())
    assert meta(html, "og:title") == "Checking for Understanding"
    assert meta(html, "og:image") == f"{BASE}/badge.png"
    assert meta(html, "og:url") == BASE
    assert "Teaching Lab" in (meta(html, "og:description") or "")


def test_a_relative_page_or_image_url_is_refused_because_previews_need_absolute_ones() -> None:
    with pytest.raises(ValueError, match="image_url"):
        render_credential_page(page(image_url="/badge.png"))


def test_the_page_needs_no_script_and_no_external_asset() -> None:
    html = render_credential_page(page(checks=(Check("Signature", True, "ok"),), verified=True))
    parsed = Elements(html)
    assert not parsed.find("script") and not parsed.find("link", rel="stylesheet")
    assert [a["src"] for _, a in parsed.tags if "src" in a] == [f"{BASE}/badge.png"]


# -- status ------------------------------------------------------------------------------------


def status_banner(html: str) -> str:
    (section,) = [a["class"] for t, a in Elements(html).tags if t == "section" and "status" in (a.get("class") or "")]
    return section or ""


def test_an_active_credential_shows_the_valid_banner() -> None:
    html = render_credential_page(page())
    assert status_banner(html) == "status status-active"
    assert "Valid credential" in html


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("revoked", "This credential has been revoked"),
        ("suspended", "This credential is suspended"),
        ("expired", "This credential has expired"),
    ],
)
def test_an_inactive_credential_says_so_with_its_own_style_and_detail(status: str, label: str) -> None:
    html = render_credential_page(page(status=status, status_detail="Revoked on 5 May 2025: evidence withdrawn."))
    assert status_banner(html) == f"status status-{status}"
    assert label in html and "Revoked on 5 May 2025: evidence withdrawn." in html
    assert "Valid credential" not in html
    assert '<main class="inactive">' in html


def test_only_the_active_status_is_styled_green() -> None:
    css = render_credential_page(page())
    for status in ("revoked", "suspended", "expired"):
        (rule,) = re.findall(rf"\.status-{status} \{{([^}}]*)\}}", css)
        assert "--ok" not in rule
    (active,) = re.findall(r"\.status-active \{([^}]*)\}", css)
    assert "--ok" in active


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        render_credential_page(page(status="valid"))


# -- verification ------------------------------------------------------------------------------


def test_before_verifying_the_page_offers_a_plain_link_to_the_verify_url() -> None:
    html = render_credential_page(page())
    assert Elements(html).find("a", href=f"{BASE}?verify=1#verification")
    assert "Verified:" not in html


def test_after_verifying_every_check_is_listed_with_its_outcome_in_words() -> None:
    checks = (
        Check("Signature", True, "eddsa-rdfc-2022 by https://awards.example.org/issuers/1#key-1"),
        Check("Status", False, "revoked on 2025-05-05"),
    )
    html = render_credential_page(page(checks=checks, verified=False))
    assert "Not verified: at least one check failed." in html
    assert "<strong>Signature</strong>: passed" in html and "<strong>Status</strong>: failed" in html
    assert "eddsa-rdfc-2022 by https://awards.example.org/issuers/1#key-1" in html


def test_a_fully_verified_credential_says_so() -> None:
    html = render_credential_page(page(checks=(Check("Signature", True, "ok"),), verified=True))
    assert "Verified: all checks passed." in html


# -- share and downloads -----------------------------------------------------------------------


def test_the_share_area_has_the_page_link_and_the_linkedin_button() -> None:
    parsed = Elements(render_credential_page(page()))
    assert parsed.find("input", id="page-link", value=BASE)
    (linkedin,) = [a for a in parsed.find("a") if (a.get("href") or "").startswith("https://www.linkedin.com/")]
    assert linkedin["rel"] == "noopener"


def test_downloads_offer_json_png_and_svg_and_the_jwt_only_when_there_is_one() -> None:
    without = Elements(render_credential_page(page()))
    assert [a["href"] for a in without.find("a") if "download" in a] == [
        f"{BASE}/credential.json", f"{BASE}/badge.png", f"{BASE}/badge.svg",
    ]
    with_jwt = Elements(render_credential_page(page(jwt_url=f"{BASE}/credential.jwt")))
    assert with_jwt.find("a", href=f"{BASE}/credential.jwt", type="application/jwt")


# -- LinkedIn ----------------------------------------------------------------------------------


def linkedin(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "name": "Checking for Understanding & Feedback",
        "organization_name": "Teaching Lab",
        "issued_at": datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
        "valid_until": datetime(2028, 11, 4, tzinfo=UTC),
        "cert_url": "https://awards.example.org/credentials/1?lang=en&x=1",
        "cert_id": "urn:uuid:6f1c9f0e-6b44-4c1e-9d0b-2a3f8f5f1c11",
    }
    return linkedin_add_to_profile_url(**(arguments | overrides))  # type: ignore[arg-type]


def test_the_linkedin_url_prefills_the_certification_with_linkedins_parameter_names() -> None:
    url = urlsplit(linkedin())
    assert (url.scheme, url.netloc, url.path) == ("https", "www.linkedin.com", "/profile/add")
    assert parse_qs(url.query) == {
        "startTask": ["CERTIFICATION_NAME"],
        "name": ["Checking for Understanding & Feedback"],
        "organizationName": ["Teaching Lab"],
        "issueYear": ["2025"],
        "issueMonth": ["3"],
        "expirationYear": ["2028"],
        "expirationMonth": ["11"],
        "certUrl": ["https://awards.example.org/credentials/1?lang=en&x=1"],
        "certId": ["urn:uuid:6f1c9f0e-6b44-4c1e-9d0b-2a3f8f5f1c11"],
    }


def test_the_linkedin_url_percent_encodes_every_reserved_character() -> None:
    query = urlsplit(linkedin()).query
    assert "name=Checking%20for%20Understanding%20%26%20Feedback" in query
    assert "certUrl=https%3A%2F%2Fawards.example.org%2Fcredentials%2F1%3Flang%3Den%26x%3D1" in query


def test_a_credential_without_expiry_sends_no_expiration() -> None:
    assert "expiration" not in linkedin(valid_until=None)


def test_a_linkedin_organization_id_replaces_the_free_text_name() -> None:
    params = parse_qs(urlsplit(linkedin(organization_id="1337")).query)
    assert params["organizationId"] == ["1337"] and "organizationName" not in params


def test_the_linkedin_issue_month_is_the_utc_month() -> None:
    new_years_eve_in_new_york = datetime(2025, 12, 31, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    params = parse_qs(urlsplit(linkedin(issued_at=new_years_eve_in_new_york)).query)
    assert (params["issueYear"], params["issueMonth"]) == (["2026"], ["1"])


def test_the_linkedin_url_survives_the_page_escaping() -> None:
    url = linkedin()
    parsed = Elements(render_credential_page(replace(page(), linkedin_url=url)))
    assert parsed.find("a", href=url)
