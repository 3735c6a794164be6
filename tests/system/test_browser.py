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

from conftest import ROOT, report, required_or_skip, running_server

pytestmark = pytest.mark.slow

CHROMIUM = next(
    (p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")) if p), None
)
try:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if sync_playwright is None or CHROMIUM is None:
    required_or_skip(
        "the browser test needs `pip install -r requirements-dev.txt` (playwright) and Chromium "
        "(Debian/Ubuntu: sudo apt-get install chromium)"
    )

KEY = "cle-du-navigateur-42"
# Chromium's own background traffic (updates, sync, safe browsing) would try other hosts: switched off,
# so that the request log below holds only what the pages themselves ask for.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-features=Translate",
]


# A loaded machine (two suites at once on two cores) renders Swagger UI slowly: every wait below is an
# auto-waiting locator or expect() bounded by this, never a snapshot of the page.
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


class Visit:
    """A page that logs every request it makes and refuses any to another host (the network is cut), and keeps
    its console, so that a failing test can leave a screenshot and the log behind."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.base, self.hosts = base, set()
        self.context = browser.new_context()
        self.context.route("**/*", self._only_local)
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []  # uncaught exceptions and console errors: a docs page must have none
        self.console: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        self.page.on("console", self._log)

    def _log(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")
        if message.type == "error":  # a refused request (CSP, network) is logged so too
            self.errors.append(f"{message.type}: {message.text} ({message.location.get('url', '')})")

    def _only_local(self, route) -> None:
        host = urlsplit(route.request.url).netloc
        self.hosts.add(host)
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            route.abort()  # what an offline machine would do

    def save_evidence(self, folder: Path, name: str) -> list[Path]:
        """A screenshot of the page and its console log, in folder: the paths written."""
        shot, log = folder / f"{name}.png", folder / f"{name}.console.log"
        log.write_text("\n".join(self.console) + "\n", encoding="utf-8")
        try:
            self.page.screenshot(path=str(shot), full_page=True, timeout=WAIT_MS)
        except Exception as exc:  # the page itself may be what broke: keep the log, say why there is no picture
            log.write_text(log.read_text(encoding="utf-8") + f"(no screenshot: {exc})\n", encoding="utf-8")
            return [log]
        return [shot, log]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Browser, request: pytest.FixtureRequest, tmp_path: Path):
    """Opens pages; when the test fails, conftest's report hook saves their screenshots and console logs in
    the test's temporary folder and names them in the report."""
    visits: list[Visit] = []
    request.node.browser_visits, request.node.browser_evidence_folder = visits, tmp_path

    def open_(base: str) -> Visit:
        visits.append(Visit(browser, base))
        return visits[-1]

    yield open_
    for v in visits:
        v.close()


def open_operation(page: Page, operation: str) -> Locator:
    """Expand an operation in Swagger UI and press Try it out: its block, once Execute is there."""
    block = page.locator(f"#operations-{operation}")
    expect(block).to_be_visible(timeout=WAIT_MS)
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()  # auto-waits until the expanded block shows it
    expect(block.get_by_role("button", name="Execute")).to_be_visible(timeout=WAIT_MS)
    return block


def execute(block: Locator, body: dict | None = None, *, again: bool = False) -> str:
    """Fill the body (if any), press Execute: the status shown. again: the block shows the answer of an earlier
    Execute, cleared first so that the status read is the new one."""
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body, ensure_ascii=False))
    responses = block.locator(".live-responses-table")
    if again:
        block.get_by_role("button", name="Clear").click()
        expect(responses).to_have_count(0, timeout=WAIT_MS)
    block.get_by_role("button", name="Execute").click()
    status = responses.locator("tbody .response-col_status").first
    expect(status).to_have_text(re.compile(r"^\s*\d{3}"), timeout=WAIT_MS)
    return status.inner_text().strip()[:3]


def test_swagger_ui_creates_a_ticket_offline(visit, tickets_file: Path) -> None:
    with running_server(tickets_file) as base:
        v = visit(base)
        v.page.goto(f"{base}/docs")
        block = open_operation(v.page, "tickets-create_ticket")
        status = execute(block, {"title": "Créé depuis Swagger UI", "priority": "haute"})
        assert status == "201"
        created = json.loads(tickets_file.read_text(encoding="utf-8"))["tickets"][-1]
        assert (created["title"], created["priority"]) == ("Créé depuis Swagger UI", "high")
        v.page.goto(f"{base}/redoc")
        expect(v.page.locator("h2", has_text="Create a ticket")).to_be_visible(timeout=WAIT_MS)
        assert v.hosts == {urlsplit(base).netloc}, v.hosts
        assert v.errors == []
    report(f"browser: Swagger UI created a ticket (201) and ReDoc rendered, offline; hosts asked: {sorted(v.hosts)}")


def test_swagger_ui_authorize_with_an_api_key(visit, tickets_file: Path) -> None:
    with running_server(tickets_file, env={"TICKETS_API_KEY": KEY}) as base:
        v = visit(base)
        v.page.goto(f"{base}/docs")
        block = open_operation(v.page, "tickets-list_tickets")
        assert execute(block) == "401"
        v.page.locator("button.authorize").first.click()
        v.page.locator(".auth-container input").first.fill(KEY)
        v.page.locator(".auth-container button.authorize").click()
        expect(v.page.locator(".auth-container button.btn-done")).to_be_visible(timeout=WAIT_MS)
        v.page.locator(".auth-container button.btn-done").click()
        expect(v.page.locator(".auth-container")).to_have_count(0, timeout=WAIT_MS)  # the dialog is closed
        assert execute(block, again=True) == "200"
        assert v.hosts == {urlsplit(base).netloc}, v.hosts
        # The browser logs the 401 that Try it out got before Authorize, as it logs any answer in error: that one
        # is the test's own doing, and nothing else may be logged.
        expected = [e for e in v.errors if "status of 401 (Unauthorized)" in e and "/tickets?" in e]
        assert len(expected) == 1 and v.errors == expected, v.errors
    report("browser: with TICKETS_API_KEY, Try it out gave 401, then 200 after Authorize")


# Where the docs pages' screenshots go, for people to look at (ignored by git): each run replaces them.
SCREENSHOTS = ROOT / "tests" / "artifacts" / "browser"


def test_docs_pages_log_no_error_and_leave_screenshots(visit, tickets_file: Path) -> None:
    """/docs and /redoc load with no console error (ReDoc's remote logo used to be refused on every load), show
    the rules in words rather than raw patterns, and leave a screenshot of each in SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with running_server(tickets_file) as base:
        v = visit(base)
        v.page.goto(f"{base}/docs")
        block = v.page.locator("#operations-tickets-create_ticket")
        block.locator(".opblock-summary").first.click()
        expect(block.locator(".parameters-col_name", has_text="X-Actor")).to_be_visible(timeout=WAIT_MS)
        expect(block.get_by_text("At least one visible character").first).to_be_visible(timeout=WAIT_MS)
        assert "\x00" not in block.inner_text() and "\u200b" not in block.inner_text()
        v.page.screenshot(path=str(SCREENSHOTS / "docs.png"), full_page=False)
        block.screenshot(path=str(SCREENSHOTS / "docs-create-ticket.png"))

        v.page.goto(f"{base}/redoc")
        expect(v.page.locator("h2", has_text="List tickets")).to_be_visible(timeout=WAIT_MS)
        # The sidebar's logo is drawn once the page is up: it is the picture the bundle carries, asked of nobody.
        expect(v.page.locator('img[alt="redocly logo"]')).to_have_attribute("src", re.compile("^data:"))
        listing = v.page.locator("[id='tag/tickets/operation/list_tickets']")
        expect(listing.get_by_text("Default:", exact=False).first).to_be_visible(timeout=WAIT_MS)
        assert 'Default: ""' not in listing.inner_text().replace("\n", " ")
        v.page.screenshot(path=str(SCREENSHOTS / "redoc.png"), full_page=False)
        listing.screenshot(path=str(SCREENSHOTS / "redoc-list-tickets.png"))
        assert v.hosts == {urlsplit(base).netloc}, v.hosts
        assert v.errors == []
    print(f"screenshots of /docs and /redoc: {SCREENSHOTS}")
    report(f"browser: /docs and /redoc logged no console error; screenshots in {SCREENSHOTS}")
