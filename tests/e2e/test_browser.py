"""The Airflow UI in headless Chromium: log in, trigger the migration through the form, see it succeed, and find
the collection on the Vector Health page. Screenshots of every step go to ``tests/artifacts/``."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.e2e.conftest import ARTIFACTS, DAG_ID, Platform

COLLECTION = "e2e_faq"
SCHEMA = "e2e_ui"
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
                                                                        settings: Any) -> None:
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
    run = platform.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()
    assert (run["conf"]["collections"], run["conf"]["target_schema"]) == ([COLLECTION], SCHEMA)
    platform.wait_for_run(run_id)
    page.reload()
    expect(page.get_by_text(run_id).first).to_be_visible()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_role("cell", name=COLLECTION, exact=True).first).to_be_visible()  # the rendered map index
    page.screenshot(path=ARTIFACTS / "run-success.png")

    from vectorops import monitor

    for probe_run in range(3):  # what pgvector_search_monitor records every 15 minutes: the charts' points
        monitor.monitor_table(settings, COLLECTION, f"e2e_monitor_{probe_run}")
    page.get_by_role("link", name="Vector Health").click()  # the plugin's nav item, embedded in the Airflow UI
    page.wait_for_url(re.compile(r"/plugin/vector-health"))
    embedded = page.frame_locator("iframe").locator(f'tr[data-collection="{COLLECTION}"] td.rows')
    expect(embedded).to_have_text(str(platform.rows[COLLECTION]))
    charts = page.frame_locator("iframe").locator(f'[data-collection-charts="{COLLECTION}"] svg polyline')
    expect(charts).to_have_count(2)  # p95 latency and recall@10 over time
    page.screenshot(path=ARTIFACTS / "vector-health-in-airflow.png")
    page.goto(f"{platform.base_url}/vector-health/")
    rows = page.locator(f'tr[data-collection="{COLLECTION}"] td.rows')
    expect(rows).to_have_text(str(platform.rows[COLLECTION]))
    page.screenshot(path=ARTIFACTS / "vector-health.png", full_page=True)


def test_vector_health_page_needs_a_login(platform: Platform, page: Page) -> None:
    response = page.goto(f"{platform.base_url}/vector-health/")
    assert response is not None
    assert response.status == 401 or "/auth/login" in page.url, (response.status, page.url)
    expect(page.locator("tr[data-collection]")).to_have_count(0)
