"""Walks the operator console in headless Chromium, as an operator would.

    console.py BASE_URL API_KEY SCREENSHOT_DIR

Signs in with the API key, reads the Gateway List, duplicates the first gateway with a new
descriptor suffix, opens the payments list, a customer's profile, the webhook event log, the reports and each report page, looks at the Gateway List on a phone's
screen, and signs out. Saves a PNG screenshot of each page in SCREENSHOT_DIR and prints one JSON
object on stdout:

    {"notice": ..., "gateways": [...titles], "reports": {name: {"svg": bool, "rows": n}},
     "signed_out_at": url, "screenshots": [...]}

Chromium and chromedriver are Debian's (scripts/browser-env); Selenium Manager never downloads
anything: the driver path is given and SE_OFFLINE is set.
"""

import json
import os
import shutil
import sys
import tempfile

from kassa_browser import WAIT_SECONDS, browser  # noqa: E402 (kassa-testkit/python)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

REPORTS = ["gateway_volume", "reserve", "chargebacks", "declines", "rebill_forecast"]


def log(*args):
    print("console:", *args, file=sys.stderr, flush=True)


def main():
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL API_KEY SCREENSHOT_DIR")
    base, key, shots = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="kassa-chromium-profile-")
    saved = []
    driver = None

    def shot(name):
        path = os.path.join(shots, f"{len(saved) + 1:02d}-{name}.png")
        driver.save_screenshot(path)
        saved.append(path)
        log("screenshot", path)

    try:
        driver = browser(profile)
        wait = WebDriverWait(driver, WAIT_SECONDS)
        seen = {}

        driver.get(base + "/console/gateways")
        wait.until(ec.visibility_of_element_located((By.ID, "api_key")))
        assert driver.current_url.endswith("/console/sign-in"), driver.current_url
        shot("sign-in")
        driver.find_element(By.ID, "api_key").send_keys(key)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(ec.visibility_of_element_located((By.ID, "gateways")))
        seen["gateways"] = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "td.title")]
        shot("gateway-list")

        first = driver.find_elements(By.CSS_SELECTOR, "#gateways tbody tr")[0]
        first.find_element(By.NAME, "descriptor_suffix").send_keys("SERUM")
        first.find_element(By.CSS_SELECTOR, "button.duplicate").click()
        notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".notice")))
        seen["notice"] = notice.text
        shot("gateway-duplicated")

        driver.get(base + "/console/payments")
        wait.until(ec.visibility_of_element_located((By.ID, "payments")))
        seen["payments"] = len(driver.find_elements(By.CSS_SELECTOR, "#payments tbody tr"))
        shot("payments")

        driver.get(base + "/console/customers?q=C-1")
        wait.until(ec.visibility_of_element_located((By.ID, "customers")))
        shot("customers")
        driver.find_element(By.CSS_SELECTOR, "#customers tbody a").click()
        wait.until(ec.visibility_of_element_located((By.ID, "account-payments")))
        seen["profile_payments"] = len(driver.find_elements(By.CSS_SELECTOR, "#account-payments tbody tr"))
        shot("customer-profile")

        driver.get(base + "/console/webhook_events")
        wait.until(ec.visibility_of_element_located((By.ID, "events")))
        shot("webhook-events")

        driver.get(base + "/console/reports")
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "ul.reports")))
        shot("reports")
        seen["reports"] = {}
        for name in REPORTS:
            driver.find_element(By.CSS_SELECTOR, f"a[href='/console/reports/{name}']").click()
            wait.until(ec.visibility_of_element_located((By.ID, "report")))
            seen["reports"][name] = {
                "svg": len(driver.find_elements(By.CSS_SELECTOR, "figure.chart svg")) > 0,
                "rows": len(driver.find_elements(By.CSS_SELECTOR, "#report tbody tr")),
            }
            shot(f"report-{name}")
            driver.back()
            wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "ul.reports")))

        driver.set_window_size(390, 844)
        driver.get(base + "/console/gateways")
        wait.until(ec.visibility_of_element_located((By.ID, "gateways")))
        shot("gateway-list-phone")
        driver.set_window_size(1280, 900)

        driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
        wait.until(ec.visibility_of_element_located((By.ID, "api_key")))
        driver.get(base + "/console/gateways")
        wait.until(ec.visibility_of_element_located((By.ID, "api_key")))
        seen["signed_out_at"] = driver.current_url
        seen["screenshots"] = saved
        print(json.dumps(seen))
    except Exception:
        if driver is not None:
            try:
                shot("failure")
            except Exception:  # noqa: BLE001
                pass
        raise
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
