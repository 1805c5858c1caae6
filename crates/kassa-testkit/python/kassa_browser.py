"""Headless Chromium for the suite's selenium scripts (on PYTHONPATH through
kassa_testkit::run_browser_script).

Chromium and chromedriver are Debian's (scripts/browser-env); Selenium Manager never downloads
anything: the driver path is given and SE_OFFLINE is set.
"""

import os
import sys

os.environ["SE_OFFLINE"] = "true"
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

CHROMIUM = os.environ.get("KASSA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KASSA_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT_SECONDS = 30


def browser(profile, size="1280,900"):
    """A headless Chromium with its own profile folder, nothing fetched from outside."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={size}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=sys.stderr)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT_SECONDS)
    return driver
