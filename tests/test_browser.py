"""Swagger UI and ReDoc in a real browser (headless Chromium driven by Playwright), with the network cut off:
the pages must work from the app's own files, and ask no other host for anything.

Needs the pip package playwright and a Chromium (Debian: apt-get install chromium). Playwright's own browser
download is not used: the test points Playwright at the installed Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import report, required_or_skip, running_server

CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p), None)  # fmt: skip
try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if sync_playwright is None or CHROMIUM is None:
    required_or_skip("the browser test needs `pip install -r requirements-dev.txt` (playwright) and Chromium "
                     "(Debian/Ubuntu: sudo apt-get install chromium)")  # fmt: skip

KEY = "cle-du-navigateur-42"
# Chromium's own background traffic (updates, sync, safe browsing) would try other hosts: switched off,
# so that the request log below holds only what the pages themselves ask for.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-features=Translate"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


class Visit:
    """A page that logs every request it makes and refuses any to another host (the network is cut)."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.base, self.hosts = base, set()
        self.context = browser.new_context()
        self.context.route("**/*", self._only_local)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _only_local(self, route) -> None:
        host = urlsplit(route.request.url).netloc
        self.hosts.add(host)
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            route.abort()  # what an offline machine would do

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Browser):
    visits: list[Visit] = []

    def open_(base: str) -> Visit:
        visits.append(Visit(browser, base))
        return visits[-1]

    yield open_
    for v in visits:
        v.close()


def try_it_out(page: Page, operation: str, body: dict | None = None) -> str:
    """Open an operation in Swagger UI, press Try it out, fill the body, Execute: the status shown."""
    block = page.locator(f"#operations-{operation}")
    if not block.locator(".opblock-body").count():
        block.locator(".opblock-summary").first.click()
    if block.get_by_role("button", name="Try it out").count():
        block.get_by_role("button", name="Try it out").click()
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body, ensure_ascii=False))
    if block.get_by_role("button", name="Clear").count():  # the answer of an earlier try
        block.get_by_role("button", name="Clear").click()
        expect(block.locator(".live-responses-table")).to_have_count(0)
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text(re.compile(r"^\s*\d{3}"), timeout=15_000)
    return status.inner_text().strip()[:3]


def test_swagger_ui_creates_a_ticket_offline(visit, tickets_file: Path) -> None:
    with running_server(tickets_file) as base:
        v = visit(base)
        v.page.goto(f"{base}/docs")
        expect(v.page.locator("#operations-tickets-create_ticket_tickets_post")).to_be_visible(timeout=15_000)
        status = try_it_out(v.page, "tickets-create_ticket_tickets_post",
                            {"title": "Créé depuis Swagger UI", "priority": "haute"})  # fmt: skip
        assert status == "201"
        created = json.loads(tickets_file.read_text(encoding="utf-8"))["tickets"][-1]
        assert (created["title"], created["priority"]) == ("Créé depuis Swagger UI", "high")
        v.page.goto(f"{base}/redoc")
        expect(v.page.locator("h2", has_text="Create a ticket")).to_be_visible(timeout=15_000)
        assert v.hosts == {urlsplit(base).netloc}, v.hosts
        assert v.errors == []
    report(f"browser: Swagger UI created a ticket (201) and ReDoc rendered, offline; hosts asked: {sorted(v.hosts)}")


def test_swagger_ui_authorize_with_an_api_key(visit, tickets_file: Path) -> None:
    with running_server(tickets_file, env={"TICKETS_API_KEY": KEY}) as base:
        v = visit(base)
        v.page.goto(f"{base}/docs")
        expect(v.page.locator("#operations-tickets-list_tickets_tickets_get")).to_be_visible(timeout=15_000)
        assert try_it_out(v.page, "tickets-list_tickets_tickets_get") == "401"
        v.page.locator("button.authorize").first.click()
        v.page.locator(".auth-container input").first.fill(KEY)
        v.page.locator(".auth-container button.authorize").click()
        v.page.locator(".auth-container button.btn-done").click()
        assert try_it_out(v.page, "tickets-list_tickets_tickets_get") == "200"
        assert v.hosts == {urlsplit(base).netloc}, v.hosts
    report("browser: with TICKETS_API_KEY, Try it out gave 401, then 200 after Authorize")
