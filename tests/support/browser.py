"""Headless Debian chromium, driven by selenium, for the dashboard's tests and benchmark.

Nothing is downloaded: chromedriver and chromium are Debian's, named by path,
and selenium-manager (which would fetch a browser) is made to fail loudly if
anything still reached for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.selenium_manager import SeleniumManager
from selenium.webdriver.remote.webelement import WebElement

from tests.support.waiting import wait_until

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
DESKTOP = (1280, 800)
PHONE = (390, 844)


def _no_selenium_manager(*_: Any, **__: Any) -> Any:
    raise AssertionError("selenium-manager was invoked: it would download a browser")


def start_chromium(profile_dir: Path) -> Chrome:
    """One headless chromium at the desktop size; the caller quits it."""
    SeleniumManager.binary_paths = _no_selenium_manager  # type: ignore[method-assign]
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to run as root with its sandbox
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def set_viewport(driver: Chrome, width: int, height: int) -> None:
    """Make the page's viewport (not the window) exactly width × height."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def console_errors(
    driver: Chrome, allowed: Callable[[str], bool] = lambda _: False
) -> list[str]:
    """The browser's console errors since the last call, but those `allowed` says are expected.

    A request Chromium dropped because the host's interfaces changed (a node starting pods
    adds veths) is the host's doing, not the page's: the page reads again (ui/api.js).
    """
    return [
        entry["message"]
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if entry["level"] == "SEVERE"
        and "net::ERR_NETWORK_CHANGED" not in entry["message"]
        and not allowed(entry["message"])
    ]


def artifacts_dir(fallback: Path) -> Path:
    """Where screenshots go: `$OZY_TEST_ARTIFACTS`, else under the test's base temp dir."""
    chosen = os.environ.get("OZY_TEST_ARTIFACTS")
    directory = Path(chosen) / "dashboard" if chosen else fallback
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class Dashboard:
    """The dashboard of one node, in the shared browser."""

    def __init__(self, driver: Chrome, api: str) -> None:
        self.driver = driver
        self.api = api

    def sign_in(self, secret: str) -> None:
        driver = self.driver
        driver.get(f"{self.api}/ui/#/")
        driver.execute_script("sessionStorage.clear()")
        driver.get(f"{self.api}/ui/#/")
        field = self.wait_for("#token")
        field.send_keys(secret)
        self.find("#sign-in button[type=submit]").click()
        self.wait_for("#nodes")

    def visit(self, route: str) -> None:
        """Follow a hash route as a link would: no reload."""
        self.driver.execute_script("location.hash = arguments[0]", route)

    def find(self, selector: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def find_all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait_for(self, selector: str, timeout: float = 15) -> WebElement:
        wait_until(lambda: self.find_all(selector), timeout=timeout, what=f"{selector} on the page")
        return self.find(selector)

    def dot_states(self, job: str) -> dict[str, str]:
        """Each instance's dot on the overview (or the job page's rows): name -> its state."""
        found = self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(d => [d.dataset.instance, d.dataset.state])",
            f'[data-job="{job}"] .dot, #instances .dot',
        )
        return {str(name): str(state) for name, state in found}

    def confirm(self) -> None:
        self.wait_for("dialog[open] #confirm-ok").click()

    def screenshot(self, directory: Path, name: str, size: tuple[int, int]) -> Path:
        set_viewport(self.driver, *size)
        path = directory / f"{name}-{size[0]}x{size[1]}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path
