"""The web dashboard in a real browser: Debian's Chromium driven by Playwright, every request
to a host other than the loopback blocked (no CDN: the page works offline).

It logs in with a read key, opens every page and checks that the charts were drawn by plotly
(an ``svg.main-svg`` inside each chart, not just the HTML), follows an entity from the
overview's biggest moves to its history and time-travels, shows the leads pack's LeadScoreCard
and analytics, then logs in as admin and requeues a dead letter. Screenshots of every page, at
desktop width and at a phone's (390 px), go to ``test-artifacts/dashboard/``.

The form and session rules (CSRF, scopes, cookie flags, redirects) are checked over plain HTTP.
Skips, saying why, where Chromium or Playwright is missing; fails under ``CI=true``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from test_docs_offline import CHROMIUM, FLAGS, LOOPBACK, _need_browser

from helpers import run, serving
from rescore.plugins import discover

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    url: str
    keys: dict[str, str]
    demo_output: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The credit demo's replayed day (scores that moved), the leads demo contacts, and one
    dead letter (an event for a client the source lacks)."""
    _need_browser()
    where = tmp_path_factory.mktemp("ui")
    env = {"RESCORE_DATABASE_URL": f"sqlite:///{where / 'demo.db'}"}
    demo = run("demo", "--events", "300", "--rate", "3000", cwd=where, env=env).stdout
    run("init", "--demo-data", cwd=where, env=env)
    ghost = {"event_id": "g1", "type": "client_default", "entity": "no-such-client"}
    ghost["occurred_at"] = "2026-01-23T10:30:00Z"
    (where / "ghost.jsonl").write_text(json.dumps(ghost) + "\n")
    (where / "broken.yaml").write_text(  # a channel no one can reach: a dead delivery
        "name: broken-channel\ntrigger: {kind: event, type: client_default}\n"
        "actions: [{notify: {url: 'nosuchscheme://nowhere', body: '{{ entity }}'}}]\n"
    )
    run("automations", "add", "broken.yaml", cwd=where, env=env)
    run("ingest", "ghost.jsonl", cwd=where, env=env)
    run("worker", "--once", cwd=where, env=env, check=False)  # exit 1: it dead-lettered one
    run("automations", "deliver", cwd=where, env=env)
    keys = {
        scope: run("keys", "create", "--scope", scope, cwd=where, env=env).stdout.strip()
        for scope in ("read", "admin")
    }
    with serving(where, env) as url:
        yield Site(url, keys, demo)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


class Visit:
    """A browser context (desktop or phone) that only reaches the loopback."""

    def __init__(self, browser: Any, site: Site, viewport: dict[str, int] | None = None) -> None:
        self.site = site
        self.blocked: list[str] = []
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        self.context.route("**/*", self._only_loopback)
        self.page = self.context.new_page()

    def _only_loopback(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def login(self, scope: str) -> None:
        self.page.goto(f"{self.site.url}/ui", wait_until="networkidle")
        assert "/ui/login" in self.page.url, "a visitor without a key is sent to the login form"
        self.page.fill("#key", self.site.keys[scope])
        self.page.click("button:has-text('Log in')")
        self.page.wait_for_url(re.compile(r"/ui$"))

    def open(self, path: str) -> None:
        self.page.goto(f"{self.site.url}{path}", wait_until="networkidle")

    def drawn(self) -> int:
        """How many chart containers plotly has drawn into (an svg.main-svg inside)."""
        self.page.wait_for_selector("[data-chart] svg.main-svg", timeout=30_000)
        count: int = self.page.eval_on_selector_all(
            "[data-chart]", "els => els.filter(e => e.querySelector('svg.main-svg')).length"
        )
        return count

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert not self.blocked, f"the dashboard tried to reach outside hosts: {self.blocked}"


def test_read_key_sees_every_page_with_charts_drawn(browser: Any, site: Site) -> None:
    visit = Visit(browser, site)
    try:
        visit.login("read")
        assert visit.drawn() == len(discover().names), "one score distribution per pack"
        text = visit.page.inner_text("main")
        for label in ("Events / s", "Critical pending", "Dead letters", "biggest moves"):
            assert label in text
        visit.shot("overview")
        visit.open("/ui/analytics/credit")
        assert visit.drawn() == 2, "the PD model's PSI per feature, the distribution"
        drift = visit.page.inner_text("section.drift")
        assert "Probability-of-default model: drift" in drift
        assert "checked" in drift
        assert visit.page.locator(".tile:has-text('Drift status')").count() == 1
        assert visit.page.locator("table.checks tbody tr").count() == 1, "the first check ran"
        assert visit.page.locator("text=Fell most this week").count() == 1
        assert visit.page.locator("table a.entity").count() > 0, "the demo's day made falls"
        visit.shot("analytics-credit")
        visit.open("/ui/analytics/leads")
        assert visit.drawn() == 3, "bands, platform success rates, distribution"
        for label in ("Premium Leads", "Average Score", "Validated Contacts", "Multi-Platform"):
            assert visit.page.locator(f".tile:has-text('{label}')").count() == 1
        visit.shot("analytics-leads")
        visit.open("/ui/queue")
        assert visit.drawn() == 1
        assert "no-such-client" in visit.page.inner_text("table.dead")
        assert visit.page.locator("button.requeue").count() == 0, "read keys cannot act"
        visit.shot("queue-read")
    finally:
        visit.close()


def test_follow_an_entity_from_the_overview_to_its_history(browser: Any, site: Site) -> None:
    visit = Visit(browser, site)
    try:
        visit.login("read")
        first = visit.page.locator("table.moves a.entity[href*='/ui/entity/credit/']").first
        entity = first.inner_text()
        first.click()
        visit.page.wait_for_load_state("networkidle")
        assert f"/ui/entity/credit/{entity}" in visit.page.url
        assert visit.drawn() == 1, "the history chart"
        changes = visit.page.inner_text("table.changes")
        assert re.search(r"client_default|payment|plan", changes), changes
        visit.shot("entity-credit")
        visit.page.fill("#as_of", "2000-01-01T00:00:00")
        visit.page.click("form.asof button")
        visit.page.wait_for_load_state("networkidle")
        assert "was first scored later" in visit.page.inner_text("main")
        visit.page.fill("#as_of", "2099-01-01T00:00:00")
        visit.page.click("form.asof button")
        visit.page.wait_for_load_state("networkidle")
        assert "Showing the scores in force at 2099-01-01 00:00 UTC" in visit.page.inner_text(
            "main"
        )
    finally:
        visit.close()


def test_the_leads_entity_page_shows_the_lead_score_card(browser: Any, site: Site) -> None:
    visit = Visit(browser, site)
    try:
        visit.login("read")
        visit.page.fill("input[name=q]", "1")
        visit.page.select_option("select[name=pack]", "leads")
        visit.page.click("button:has-text('Find')")
        visit.page.wait_for_load_state("networkidle")
        assert "/ui/entity/leads/1" in visit.page.url
        card = visit.page.locator(".lead-card")
        assert card.locator(".platform").count() == 5
        text = card.inner_text()
        for label in ("WhatsApp", "Apple", "Platforms", "Business Accounts", "Confidence"):
            assert label in text
        assert re.search(r"\d/5", text)
        assert visit.drawn() == 1
        visit.shot("entity-leads")
    finally:
        visit.close()


def test_the_content_pack_shows_a_lessons_pipeline_card_and_its_analytics(
    browser: Any, site: Site
) -> None:
    visit = Visit(browser, site)
    try:
        visit.login("read")
        visit.open("/ui/entity/content/demo000_m1_l1")
        card = visit.page.locator(".content-card")
        assert card.locator(".platform").count() == 4
        text = card.inner_text()
        for label in ("Download", "Analysis", "Sync", "School", "Level", "Confidence"):
            assert label in text
        assert "Curso demo 0" in text
        visit.shot("entity-content")
        visit.open("/ui/analytics/content")
        tiles = visit.page.locator(".tiles").first.inner_text()
        for label in ("Lessons done", "In progress", "Failed (retried)", "Dead letters"):
            assert label in tiles
        assert visit.drawn() >= 3
        visit.shot("analytics-content")
    finally:
        visit.close()


def test_an_admin_requeues_a_dead_letter(browser: Any, site: Site) -> None:
    visit = Visit(browser, site)
    try:
        visit.login("admin")
        visit.open("/ui/queue")
        before = requeued(site)
        row = visit.page.locator("table.dead tr:has-text('no-such-client')")
        row.locator("button.requeue").click()
        visit.page.wait_for_load_state("networkidle")
        assert "Requeued 1 entity." in visit.page.inner_text("main")
        assert requeued(site) == before + 1, "the server put it back in line"
        # the source still lacks the client, so the workers dead-letter it again: honest
        visit.shot("queue-requeued")
    finally:
        visit.close()


def test_the_automations_page_shows_rules_deliveries_and_requeues_one(
    browser: Any, site: Site
) -> None:
    visit = Visit(browser, site)
    try:
        visit.login("admin")
        visit.open("/ui/automations")
        assert visit.drawn() == 1
        main = visit.page.inner_text("main")
        assert "credit.default_alert" in main  # shipped by the credit pack
        assert "rescore.pending_high" in main  # rescore's own admin alerts
        visit.shot("automations")
        visit.open("/ui/automations?status=dead")
        row = visit.page.locator("table.deliveries tr:has-text('broken-channel')")
        assert "the rule's url: Apprise does not know this URL" in row.inner_text()
        row.locator("button.requeue").click()
        visit.page.wait_for_load_state("networkidle")
        assert "Requeued 1 delivery." in visit.page.inner_text("main")
        visit.shot("automations-requeued")
    finally:
        visit.close()
    phone = Visit(browser, site, PHONE)
    try:
        phone.login("read")
        phone.open("/ui/automations")
        assert phone.drawn() == 1
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width} px wide at a phone's 390"
        assert "Requeueing needs an admin key." in phone.page.inner_text("main")
        phone.shot("automations-phone")
    finally:
        phone.close()


def requeued(site: Site) -> float:
    """``rescore_requeued_total`` (the critical lane) from the server's /metrics."""
    text = httpx.get(f"{site.url}/metrics", timeout=10).text
    found = re.search(r'^rescore_requeued_total\{lane="critical"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_pages_fit_a_phone(browser: Any, site: Site) -> None:
    visit = Visit(browser, site, viewport=PHONE)
    try:
        visit.login("read")
        for name, path in (
            ("overview", "/ui"),
            ("entity-leads", "/ui/entity/leads/1"),
            ("analytics-leads", "/ui/analytics/leads"),
            ("queue", "/ui/queue"),
        ):
            visit.open(path)
            assert visit.drawn() >= 1
            width = visit.page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide on a phone"
            visit.shot(f"phone-{name}")
    finally:
        visit.close()


def test_the_demo_ends_with_the_dashboards_address_and_a_read_key(site: Site) -> None:
    said = re.search(
        r"dashboard: (.+) serve, then open (\S+) and log in with this read key: (\S+)",
        site.demo_output,
    )
    assert said is not None, site.demo_output
    assert said.group(2) == "http://127.0.0.1:8000/ui"
    answer = httpx.post(f"{site.url}/ui/login", data={"key": said.group(3)})
    assert answer.status_code == 303, "the printed key logs in"


# the session and form rules, over plain HTTP -------------------------------------------------


@contextmanager
def login(site: Site, scope: str) -> Iterator[httpx.Client]:
    """A client whose cookie jar holds the session the login form set."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        answer = client.post("/ui/login", data={"key": site.keys[scope], "next": "/ui/queue"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/queue"
        yield client


def test_the_login_cookie_is_httponly_strict_and_only_for_ui(site: Site) -> None:
    answer = httpx.post(f"{site.url}/ui/login", data={"key": site.keys["read"]})
    cookie = answer.headers["set-cookie"].lower()
    for flag in ("httponly", "samesite=strict", "path=/ui"):
        assert flag in cookie
    bad = httpx.post(f"{site.url}/ui/login", data={"key": "rsk_nope_nope"})
    assert bad.status_code == 401
    assert "set-cookie" not in bad.headers
    assert "not valid" in bad.text


def test_login_never_redirects_to_another_site(site: Site) -> None:
    for target in ("https://evil.example/", "//evil.example/ui"):
        answer = httpx.post(f"{site.url}/ui/login", data={"key": site.keys["read"], "next": target})
        assert answer.headers["location"] == "/ui"


def test_requeue_needs_the_csrf_token_and_an_admin_key(site: Site) -> None:
    with login(site, "admin") as admin:
        refused = admin.post("/ui/queue/requeue", data={"csrf": "forged"})
        assert refused.status_code == 403
        assert "CSRF" in refused.text
    with login(site, "read") as reader:
        page = reader.get("/ui/queue").text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None
        refused = reader.post("/ui/queue/requeue", data={"csrf": csrf.group(1)})
        assert refused.status_code == 403
        assert "needs admin" in refused.text


def test_pages_send_a_strict_content_security_policy(site: Site) -> None:
    with login(site, "read") as reader:
        answer = reader.get("/ui")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script>" not in answer.text, "no inline script"


def test_bad_input_is_a_page_naming_the_field(site: Site) -> None:
    with login(site, "read") as reader:
        answer = reader.get("/ui/entity/credit/1000053630", params={"as_of": "yesterday"})
        assert answer.status_code == 422
        assert "as_of" in answer.text
        assert reader.get("/ui/analytics/nope").status_code == 404
        assert reader.get("/ui/entity/credit/nobody-at-all").status_code == 404


def test_search_by_prefix_is_paged_without_overlap(site: Site) -> None:
    with login(site, "read") as reader:
        pages = [
            reader.get("/ui/search", params={"q": "10", "pack": "credit", "page": n}).text
            for n in (1, 2)
        ]
    found = [re.findall(r'class="entity" href="/ui/entity/(\w+)/(\w+)"', page) for page in pages]
    assert len(found[0]) == 20, "the demo has many cédulas starting with 10"
    assert found[1], "a second page"
    assert not set(found[0]) & set(found[1])
    assert all(key.startswith("10") for _, key in found[0] + found[1])
