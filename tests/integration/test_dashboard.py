"""The dashboard in a real browser: headless Debian chromium against a live node.

One browser serves the whole module (it takes seconds to start); each test
signs in afresh. Screenshots at 1280×800 and 390×844 are kept as artifacts
(under $OZY_TEST_ARTIFACTS/dashboard, else the pytest base temp dir; each
path is printed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.support.select import Select

from tests.support.auth import TEST_ADMIN_SECRET
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Dashboard,
    artifacts_dir,
    console_errors,
    set_viewport,
    start_chromium,
)
from tests.support.machine import run
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.podman import app_container
from tests.support.waiting import wait_until

RED = {"exited", "failed", "unhealthy"}


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chrome]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artifacts_dir(tmp_path_factory.mktemp("dashboard-artifacts"))


@pytest.fixture
def dashboard(chromium: Chrome) -> Iterator[Chrome]:
    set_viewport(chromium, *DESKTOP)
    console_errors(chromium)  # start each test with an empty log
    yield chromium
    chromium.get("about:blank")  # closes the page's streams before its node stops


def never_restarted_web_job(name: str, count: int) -> str:
    """Web pods whose app is not restarted: a killed one stays dead, so its dot stays red."""
    return f"""\
name: {name}
numInstances: {count}
labels: {{tier: web}}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 32M
    restart: never
    healthcheck: {{type: http, port: 3000, path: /healthcheck, interval: 1, timeout: 1}}
"""


def made_token(node: NodeProcess, name: str, role: str) -> str:
    reply = node.request("POST", "/v1/acl/tokens", json={"name": name, "role": role})
    reply.raise_for_status()
    return str(reply.json()["secret"])


def healthy_dots(page: Dashboard, job: str, count: int) -> dict[str, str]:
    def all_healthy() -> dict[str, str] | None:
        states = page.dot_states(job)
        return states if len(states) == count and set(states.values()) == {"healthy"} else None

    return dict(wait_until(all_healthy, timeout=90, what=f"{count} healthy dots of {job}"))


def test_the_pages_list_the_instances_and_a_killed_one_turns_red_without_a_reload(
    make_node: NodeFactory, dashboard: Chrome, artifacts: Path
) -> None:
    node = make_node("n1")
    job = "dash-web"
    assert node.apply(never_restarted_web_job(job, 2)).status_code in {200, 201}
    page = Dashboard(dashboard, node.api)
    page.sign_in(TEST_ADMIN_SECRET)

    dots = healthy_dots(page, job, 2)
    assert set(dots) == {f"{job}-0", f"{job}-1"}
    card = page.wait_for('[data-node="n1"]')
    assert "ready" in card.text and "Memory" in card.text
    labels = [dot.get_attribute("aria-label") or "" for dot in page.find_all(".dot")]
    assert any(label.startswith(f"{job}-0: healthy") for label in labels)
    page.screenshot(artifacts, "overview", DESKTOP)
    page.screenshot(artifacts, "overview", PHONE)
    set_viewport(dashboard, *DESKTOP)

    page.find(f'[data-job="{job}"] a').click()
    page.wait_for(f'#instances tr[data-instance="{job}-1"]')
    rows = page.find_all("#instances tr")
    assert [row.get_attribute("data-instance") for row in rows] == [f"{job}-0", f"{job}-1"]
    wait_until(lambda: "numInstances: 2" in page.find("#spec").text, timeout=15, what="the spec")
    show_logs(page, f"{job}-1")
    wait_until(lambda: page.find("#log-output").text not in {"", "Loading…"}, timeout=15,
               what="the log tail")  # fmt: skip
    assert not page.find("#log-output").text.startswith("Could not")
    # A page that reloads loses this; one that follows the streams keeps it.
    dashboard.execute_script("window.keptAcrossUpdates = true")

    run("podman", "kill", app_container(job, 0))
    wait_until(
        lambda: page.dot_states(job).get(f"{job}-0") in RED,
        timeout=30,
        what=f"{job}-0's dot to turn red",
    )
    assert page.dot_states(job)[f"{job}-1"] == "healthy"
    assert dashboard.execute_script("return window.keptAcrossUpdates") is True
    page.screenshot(artifacts, "job", DESKTOP)
    page.screenshot(artifacts, "job", PHONE)

    set_viewport(dashboard, *DESKTOP)
    page.visit("#/nodes/n1")
    page.wait_for("#allocation-chart svg polyline")
    page.wait_for(f'#node-instances tr[data-instance="{job}-1"]')
    page.screenshot(artifacts, "node", DESKTOP)
    assert console_errors(dashboard) == []


def test_a_deploy_token_scales_from_the_page_and_a_read_token_is_told_no(
    make_node: NodeFactory, dashboard: Chrome, artifacts: Path
) -> None:
    node = make_node("n1")
    job = "dash-scale"
    assert node.apply(never_restarted_web_job(job, 1)).status_code in {200, 201}
    reader, deployer = made_token(node, "ui-read", "read"), made_token(node, "ui-deploy", "deploy")
    page = Dashboard(dashboard, node.api)

    def scale_to(count: int) -> None:
        page.visit(f"#/jobs/{job}")
        field = page.wait_for("#scale-count")
        wait_until(lambda: field.get_attribute("value"), timeout=15, what="the current count")
        field.clear()
        field.send_keys(str(count))
        page.find("#scale-form button[type=submit]").click()
        page.confirm()

    page.sign_in(reader)
    healthy_dots(page, job, 1)
    scale_to(3)
    error = page.wait_for("#confirm-error")
    wait_until(lambda: "403" in error.text, timeout=15, what="the refusal in the dialog")
    assert "role deploy" in error.text
    page.screenshot(artifacts, "refused", DESKTOP)
    page.find("#confirm-cancel").click()
    # The refusal's 403 is the one console error expected.
    assert console_errors(dashboard, allowed=lambda m: "403" in m and "/scale" in m) == []
    assert job_count(node, job) == 1

    show_logs(page, f"{job}-0")
    wait_until(lambda: "need a deploy" in page.find("#log-output").text, timeout=15,
               what="the logs refused to a read token")  # fmt: skip
    console_errors(dashboard)  # the logs' 403, expected
    page.find("#sign-out").click()
    page.wait_for("#token")
    assert dashboard.execute_script("return sessionStorage.length") == 0
    page.sign_in(deployer)
    scale_to(3)
    wait_until(lambda: not page.find_all("dialog[open]"), timeout=30, what="the dialog to close")
    assert job_count(node, job) == 3
    healthy_dots(page, job, 3)
    assert console_errors(dashboard) == []


def show_logs(page: Dashboard, instance: str) -> None:
    Select(page.find("#log-instance")).select_by_value(instance)
    page.find(".log-form button[type=submit]").click()


def job_count(node: NodeProcess, job: str) -> Any:
    return node.request("GET", f"/v1/jobs/{job}").json()["numInstances"]


def test_an_admin_cordons_and_uncordons_a_node_from_its_page(
    make_node: NodeFactory, dashboard: Chrome
) -> None:
    node = make_node("n1")
    page = Dashboard(dashboard, node.api)
    page.sign_in(TEST_ADMIN_SECRET)
    page.visit("#/nodes/n1")
    status = page.wait_for("h1 + .badge")
    wait_until(lambda: status.text.endswith("ready"), timeout=15, what="n1 ready")

    page.find('[data-action="cordon"]').click()
    page.confirm()
    wait_until(lambda: status.text.endswith("cordoned"), timeout=15, what="n1 shown cordoned")
    assert node.request("GET", "/v1/nodes").json()[0]["cordoned"] is True
    assert not page.find('[data-action="cordon"]').is_displayed()

    page.find('[data-action="uncordon"]').click()
    page.confirm()
    wait_until(lambda: status.text.endswith("ready"), timeout=15, what="n1 shown ready again")
    assert node.request("GET", "/v1/nodes").json()[0]["cordoned"] is False
    assert console_errors(dashboard) == []
