"""A real browser for tests that need one: Debian's headless Chromium through Selenium.

Selenium drives the system ``chromium`` with the system ``chromedriver`` (Debian's
``chromium-driver``), both named explicitly so that nothing is ever downloaded. Tests
that use it skip with one line where they are missing, unless CI is set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = "Debian's chromium and chromium-driver are not installed"


def need_browser() -> None:
    """Skip the calling test without a browser; under CI a missing one is a failure."""
    if CHROMIUM and CHROMEDRIVER:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI installs chromium and chromium-driver: {MISSING}")
    pytest.skip(MISSING)


@contextmanager
def browser(width: int, height: int) -> Iterator[Any]:
    """A headless Chromium window of ``width`` by ``height`` CSS pixels, closed after use."""
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
