"""The HTML report of a deliberately failing run, opened in a real browser.

Playwright drives Debian's Chromium (`GATEWRIGHT_CHROMIUM`, set by `nox -s report_browser`; it
never downloads a browser): the page loads from disk with no network request, a screenshot is
taken, a failing test is clicked open, and its failing step, request ID, timeline and the audit
event of its org's creation are on the page; the search finds a test by request ID and the
outcome filter hides the passing ones.
Collected only when `GATEWRIGHT_CHROMIUM` is set (see conftest.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from broken_flows import RUN_ID, SERVICE_TOKEN, run_broken_flows
from playwright.sync_api import expect, sync_playwright

CHROMIUM_ENV = "GATEWRIGHT_CHROMIUM"
SHOTS_ENV = "GATEWRIGHT_SCREENSHOTS"
RID = re.compile(rf"{RUN_ID}-main-[0-9a-f]{{6}}-\d{{4}}")


def test_a_failing_run_reads_well_in_a_browser(tmp_path: Path) -> None:
    _, run_dir = run_broken_flows(tmp_path)
    report = run_dir / "report.html"
    assert SERVICE_TOKEN not in report.read_text(encoding="utf-8")
    shots = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        # --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
        browser = pw.chromium.launch(
            executable_path=os.environ[CHROMIUM_ENV], args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(report.as_uri())
            expect(page.locator("h1")).to_contain_text(RUN_ID)
            page.screenshot(path=str(shots / "report-overview.png"))

            test = page.locator("details.test", has_text="test_service_dies_mid_test")
            test.locator(":scope > summary").click()
            expect(test).to_have_attribute("open", "")
            failing = test.locator("div.step.error")
            expect(failing).to_contain_text("the org can still be read")
            expect(failing.locator(".here")).to_be_visible()
            failing_rid = failing.locator(".rid").first
            expect(failing_rid).to_have_text(RID)
            timeline = test.locator(".waterfall")
            expect(timeline).to_be_visible()
            expect(timeline.locator(".bar")).to_have_count(3)
            expect(timeline.locator(".bar.bad")).to_have_count(1)  # the refused call
            # The Given's create, beside the audit event its request ID caused.
            expect(test.locator("ul.audit").first).to_contain_text("org.create")
            expect(test.locator("ul.audit").first).to_contain_text("success")
            test.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "report-failing-test.png"), full_page=False)

            # The search finds a test by one of its request IDs.
            page.fill("#q", failing_rid.inner_text())
            expect(page.locator("details.test:visible")).to_have_count(1)
            page.fill("#q", "")
            # The outcome filter shows only the chosen outcome.
            page.locator(".chip[data-outcome=passed]").click()
            expect(page.locator("details.test:visible")).to_have_count(1)
            page.locator(".chip[data-outcome=passed]").click()
            page.select_option("#marker", "budgets")
            expect(page.locator("details.test:visible")).to_have_count(1)
        finally:
            browser.close()
    assert fetched == [report.as_uri()]  # self-contained: the page fetched nothing else
