"""The Airflow UI in headless Chromium: log in, trigger the migration through the form, see it succeed with its note,
and find the collection on the Vector Health page with a week of monitor metrics; its run link opens the run inside
the plugin's frame. Screenshots of every step go to ``tests/artifacts/`` (not committed: .gitignore)."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import psycopg
import pytest
import requests
from playwright.sync_api import Browser, FrameLocator, Locator, Page, expect, sync_playwright

from tests.e2e.conftest import ARTIFACTS, DAG_ID, Platform
from tests.integration.test_vector_health import ledger_timings_readable
from vectorops.web.charts import LEFT, RIGHT, WIDTH
from vectorops.web.recovery_panel import ARCHIVE_OFF

COLLECTION = "e2e_faq"
SCHEMA = "e2e_ui"
WEEK_POINTS = 55  # every 3 hours of the past week
pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system ``chromium`` (Debian package), headless; Playwright downloads no browser of its own."""
    executable = shutil.which("chromium")
    assert executable, "Debian chromium is not installed: `make install` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context (no cookies) with a desktop viewport."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def choose_collection(dialog: Locator, name: str) -> None:
    """Pick one collection in the form's Collections field, whichever widget Airflow renders for it.

    A string array without ``examples`` is a textarea, one value per line; with ``examples`` or ``enum`` it is a
    closed multi-select that only offers those values.
    """
    field = dialog.locator("#element_collections")
    if field.evaluate("element => element.tagName") == "TEXTAREA":
        field.fill(name)
        return
    field.get_by_role("combobox").click()
    offered = dialog.page.get_by_role("option").all_inner_texts()
    assert name in offered, (f"the Collections field is a closed multi-select offering only {offered}: a user "
                             f"cannot choose {name!r} (the param's `examples` turn the textarea into a fixed list)")
    dialog.page.get_by_role("option", name=name, exact=True).click()


def test_trigger_from_the_form_and_find_the_collection_on_vector_health(platform: Platform, page: Page,
                                                                        settings: Any, dsn: str) -> None:
    page.goto(f"{platform.base_url}/dags/{DAG_ID}")
    page.wait_for_url(re.compile(r"/auth/login"))
    page.locator("input[name=username]").fill(platform.user)
    page.locator("input[name=password]").fill(platform.password)
    page.screenshot(path=ARTIFACTS / "login.png")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/dags/{DAG_ID}$"))

    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Trigger Dag - {DAG_ID}")
    page.screenshot(path=ARTIFACTS / "trigger-form-opened.png")  # as a user first sees it
    dialog.get_by_role("button", name="Source").click()
    choose_collection(dialog, COLLECTION)
    dialog.get_by_role("button", name="Migration").click()
    dialog.locator("#element_target_schema").fill(SCHEMA)
    dialog.get_by_role("button", name="Advanced Options").click()  # shows the conf the form will send
    expect(dialog.locator("#element_target_schema")).to_be_hidden()  # the sections are an accordion
    expect(dialog).to_contain_text(f'"target_schema": "{SCHEMA}"')
    expect(dialog).to_contain_text(f'"{COLLECTION}"')
    page.screenshot(path=ARTIFACTS / "trigger-form.png", full_page=True)
    dialog.get_by_role("button", name="Trigger").click()

    page.wait_for_url(re.compile(rf"/dags/{DAG_ID}/runs/.+"))
    run_id = unquote(page.url.rsplit("/runs/", 1)[1])
    run = api_get(platform, f"/dags/{DAG_ID}/dagRuns/{run_id}")
    assert (run["conf"]["collections"], run["conf"]["target_schema"]) == ([COLLECTION], SCHEMA)
    wait_for_run(platform, run_id)
    page.reload()
    expect(page.get_by_text(run_id).first).to_be_visible()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_role("cell", name=COLLECTION, exact=True).first).to_be_visible()  # the rendered map index
    expect_the_run_note(page, platform, run_id)
    page.screenshot(path=ARTIFACTS / "run-success.png")

    seeded = seed_a_week_of_metrics(settings, dsn)
    with ledger_timings_readable(dsn):
        vector_health_in_airflow(page, platform, run_id, seeded)


def vector_health_in_airflow(page: Page, platform: Platform, run_id: str, seeded: list[float]) -> None:
    """Vector Health from Airflow's navigation bar, inside its frame, with a week of metrics; then its run link."""
    page.get_by_role("link", name="Vector Health").click()  # the plugin's nav item, embedded in the Airflow UI
    page.wait_for_url(re.compile(r"/plugin/vector-health"))
    frame = page.frame_locator("iframe")
    embedded = frame.locator(f'tr[data-collection="{COLLECTION}"]')
    expect(embedded.locator("td.rows")).to_have_text(str(platform.rows[COLLECTION]))
    expect_the_row_figures(embedded)
    expect_the_monitor_schedule(frame, platform)
    expect(frame.locator("#recovery td.wal-archive")).to_have_text(ARCHIVE_OFF)  # the session's server archives none
    charts = frame.locator(f'[data-collection-charts="{COLLECTION}"]')
    expect_a_week_of_points(charts, seeded)
    page.screenshot(path=ARTIFACTS / "vector-health-in-airflow.png")
    charts.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "vector-health-week.png")

    # the run link navigates the frame: the sandbox (no allow-top-navigation, no allow-popups) blocks _top and _blank
    embedded.locator("a.run-link").click()
    page.wait_for_url(re.compile(rf"/plugin/vector-health/dags/{DAG_ID}/runs/.+"))  # Airflow mirrors the frame's path
    expect(frame.get_by_text(run_id).first).to_be_visible()
    assert len(page.context.pages) == 1  # no popup was needed
    page.screenshot(path=ARTIFACTS / "vector-health-run-link.png")

    page.goto(f"{platform.base_url}/vector-health/")
    rows = page.locator(f'tr[data-collection="{COLLECTION}"] td.rows')
    expect(rows).to_have_text(str(platform.rows[COLLECTION]))
    page.screenshot(path=ARTIFACTS / "vector-health.png", full_page=True)


def api_get(platform: Platform, path: str) -> Any:
    """``GET /api/v2{path}`` as JSON, patient with an API server other test processes slow down (requests of
    :meth:`Platform.api` timed out at 30 s under a load of 15 on two cores)."""
    for _ in range(4):
        try:
            resp = requests.get(f"{platform.base_url}/api/v2{path}", timeout=120,
                                headers={"Authorization": f"Bearer {platform.token()}"})
        except requests.Timeout:
            continue
        assert resp.status_code == 200, resp.text
        return resp.json()
    raise AssertionError(f"GET {path}: no answer in 8 minutes")


def wait_for_run(platform: Platform, run_id: str, timeout_s: float = 300) -> None:
    """:meth:`Platform.wait_for_run` through :func:`api_get`; fails with the task states when the run failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if api_get(platform, f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"] in ("success", "failed"):
            break
        time.sleep(3)
    platform.wait_for_run(run_id, timeout_s=30)


def expect_the_run_note(page: Page, platform: Platform, run_id: str) -> None:
    """The finished run carries the migration's summary as its note, and its page shows it."""
    note = api_get(platform, f"/dags/{DAG_ID}/dagRuns/{run_id}")["note"]
    assert note and COLLECTION in note, f"the run has no summary note: {note!r}"
    first_line = re.sub(r"[*_`]", "", note.splitlines()[0]).strip()
    expect(page.get_by_text(first_line).first).to_be_visible()  # the header shows the note's first line
    page.get_by_role("button", name="Edit note").click()  # the whole note, as Airflow's note dialog shows it
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(COLLECTION)
    page.wait_for_timeout(500)  # the dialog's opening animation, for the screenshot
    page.screenshot(path=ARTIFACTS / "run-note.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def seed_a_week_of_metrics(settings: Any, dsn: str) -> list[float]:
    """A real monitor run of the collection, then its measurement written every 3 hours of the past week by the
    monitor's own writer, with latencies and recalls that vary; returns the seeded ages in hours."""
    from vectorops import monitor
    from vectorops.monitor.metrics_store import record_measurement

    measured = monitor.monitor_table(settings, COLLECTION, "e2e_monitor_now")
    assert measured.p95_ms is not None and measured.recall_at_10 is not None, measured.describe()
    ages = [165.0 - 3 * i for i in range(WEEK_POINTS)]  # 6 days 21 hours ago to 3 hours ago
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i, age in enumerate(ages):
            wave = math.sin(i / 4)
            point = dataclasses.replace(measured, run_id=f"e2e_week_{i}", metric_id=None, breaches=[],
                                        p95_ms=measured.p95_ms * (1.3 + 0.5 * wave),
                                        recall_at_10=min(1.0, measured.recall_at_10 - 0.02 * abs(wave)))
            metric_id = record_measurement(conn, point)
            conn.execute("UPDATE vectorops.search_metrics SET measured_at = now() - %s * interval '1 hour' "
                         "WHERE metric_id = %s", (age, metric_id))
    return ages


def expect_the_row_figures(row: Locator) -> None:
    """Load rate and end-to-end time apart, the lag column, the backup hint."""
    expect(row.locator("span.load-rate")).to_have_text(re.compile(r"^load [0-9,]+ rows/s$"))
    expect(row.locator("span.end-to-end")).to_have_text(re.compile(r"^end to end [0-9]"))
    expect(row.locator("span.time-split")).to_contain_text("gate ")
    expect(row.locator("td.lag")).to_have_count(1)  # the live-sync lag column (unknown until a sync measures it)
    expect(row.locator("td.backup")).to_have_text("no verified backup yet: run pgvector_backup")


def expect_the_monitor_schedule(frame: FrameLocator, platform: Platform) -> None:
    """The schedule line says what Airflow says of the monitor DAG (paused by the e2e platform)."""
    dag = api_get(platform, "/dags/pgvector_search_monitor")
    line = frame.locator("#monitor-schedule")
    expect(line).to_contain_text("Measured by pgvector_search_monitor")
    expect(line).to_contain_text(dag["timetable_description"] or dag["timetable_summary"])
    if dag["is_paused"]:
        expect(line.locator(".next-run")).to_have_text("paused: no run until it is unpaused in Airflow")
    else:
        expect(line.locator(".next-run")).to_contain_text("next run ")


def expect_a_week_of_points(charts: Locator, ages: list[float]) -> None:
    """Both charts draw every point across the week's width, dated by day, with the limit line labelled."""
    for chart in (charts.locator("svg.p95-chart"), charts.locator("svg.recall-chart")):
        expect(chart.locator("polyline")).to_have_count(1)
        points = [tuple(map(float, p.split(","))) for p in (chart.locator("polyline").get_attribute("points") or
                                                           "").split()]
        assert len(points) >= len(ages) + 1, points  # the seeded week and the real run
        xs = [x for x, _ in points]
        width = WIDTH - LEFT - RIGHT
        assert xs == sorted(xs) and xs[0] < LEFT + width / 7 and xs[-1] > WIDTH - RIGHT - 2, xs  # the whole week
        expect(chart.locator("g.days text")).to_have_count(7)
        expect(chart.locator("line.threshold")).to_have_count(1)
        expect(chart.locator("text.threshold-label")).to_have_text(re.compile(r"^limit [0-9.]+( ms)?( [↑↓])?$"))
        ys = {round(y) for _, y in points}
        assert len(ys) > 5, ys  # the values vary on the chart: scaled to the data, not flat on an axis


def test_vector_health_page_needs_a_login(platform: Platform, page: Page) -> None:
    response = page.goto(f"{platform.base_url}/vector-health/")
    assert response is not None
    assert response.status == 401 or "/auth/login" in page.url, (response.status, page.url)
    expect(page.locator("tr[data-collection]")).to_have_count(0)
