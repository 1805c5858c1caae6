"""Walks the operator console in headless Chromium, as an operator would.

    console.py BASE_URL API_KEY SCREENSHOT_DIR EMULATOR_URL STRIPE_SECRET_KEY

Signs in with the API key, reads the Gateway List, creates a Stripe V2 gateway through the form
(on the emulator), duplicates it with a new descriptor suffix, creates a test campaign with a
recurring offer on the new gateway, places a test order, presses Force Bill NOW on the purchase,
refunds the first payment, opens the payments list, the webhook event log, the reports and each
report page, looks at the Gateway List on a phone's screen, and signs out. Saves a PNG screenshot
of each page in SCREENSHOT_DIR and prints one JSON object on stdout:

    {"created": ..., "notice": ..., "gateways": [...titles], "reports": {name: {"svg": bool, "rows": n}},
     "signed_out_at": url, "screenshots": [...], ...}

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
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

REPORTS = ["gateway_volume", "reserve", "chargebacks", "declines", "rebill_forecast"]


def log(*args):
    print("console:", *args, file=sys.stderr, flush=True)


def main():
    if len(sys.argv) != 6:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL API_KEY SCREENSHOT_DIR EMULATOR_URL STRIPE_SECRET_KEY")
    base, key, shots = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    emulator, stripe_key = sys.argv[4], sys.argv[5]
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

        def fill(values):
            for field_id, value in values.items():
                el = driver.find_element(By.ID, field_id)
                if el.get_attribute("type") in ("checkbox", "radio"):
                    if el.is_selected() != bool(value):
                        el.click()
                elif el.tag_name == "select":
                    Select(el).select_by_value(value)
                else:
                    el.clear()
                    el.send_keys(value)

        # The green plus: a Stripe V2 gateway through the form (Stripe V1 is not offered).
        driver.find_element(By.ID, "new-gateway").click()
        wait.until(ec.visibility_of_element_located((By.ID, "gateway-form")))
        legacy = driver.find_element(By.CSS_SELECTOR, "#type option[value='stripe_v1']")
        seen["v1_offered"] = legacy.is_enabled()
        fill({
            "f-title": "Form Stripe",
            "f-secret_key": stripe_key,
            "f-api_base_url": emulator,
            "f-descriptor_suffix": "TRIAL",
            "f-disable_email_receipt": True,
            "f-duplicate_window_minutes": "0",
            "f-customer_service.phone": "+1 800 555 0199",
            "f-customer_service.email": "care@shop.example",
            "f-customer_service.url": "https://shop.example/care",
            "f-limits.monthly_cap": "25,000.00",
            "f-limits.discount_rate": "3.5",
            "f-limits.transaction_fee": "0.25",
            "f-limits.reserve_rate": "5",
            "f-limits.chargeback_fee": "20",
            "f-descriptor": "SHOP.EXAMPLE",
            "f-mid_number": "MID-FORM",
            "f-fraud.send_fraud_scoring_request": True,
            "f-three_ds.termination_url": "https://shop.example/3ds-done",
        })
        shot("gateway-new-form")
        driver.find_element(By.ID, "save-gateway").click()
        notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".notice")))
        seen["created"] = notice.text
        seen["gateways"] = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "td.title")]
        shot("gateway-created")

        def row_of(title):
            for tr in driver.find_elements(By.CSS_SELECTOR, "#gateways tbody tr"):
                if tr.find_element(By.CSS_SELECTOR, "td.title").text == title:
                    return tr
            raise AssertionError(f"no gateway {title}")

        row_of("Form Stripe").find_element(By.LINK_TEXT, "Edit").click()
        wait.until(ec.visibility_of_element_located((By.ID, "gateway-form")))
        seen["edit_cap"] = driver.find_element(By.ID, "f-limits.monthly_cap").get_attribute("value")
        seen["edit_secret"] = driver.find_element(By.ID, "f-secret_key").get_attribute("value")
        shot("gateway-edit-form")
        driver.get(base + "/console/gateways")
        wait.until(ec.visibility_of_element_located((By.ID, "gateways")))

        form_row = row_of("Form Stripe")
        form_gateway = form_row.find_element(By.CSS_SELECTOR, "td").text
        form_row.find_element(By.NAME, "descriptor_suffix").send_keys("SERUM")
        form_row.find_element(By.CSS_SELECTOR, "button.duplicate").click()
        notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".notice")))
        seen["notice"] = notice.text
        shot("gateway-duplicated")

        # A test campaign with a recurring offer on the new gateway, and a test order.
        driver.get(base + "/console/campaigns")
        wait.until(ec.visibility_of_element_located((By.ID, "new-campaign")))
        fill({"c-name": "Gateway test (phone)", "c-test": True})
        driver.find_element(By.CSS_SELECTOR, "#new-campaign button").click()
        wait.until(ec.visibility_of_element_located((By.ID, "new-product")))
        fill({
            "p-name": "Trial serum",
            "k-rec": True,
            "p-cycles": "1.00, 49.95",
            "p-count": "1",
            "p-unit": "months",
            "p-target": f"g:{form_gateway}",
        })
        shot("campaign-new-product")
        driver.find_element(By.ID, "add-product").click()
        wait.until(ec.visibility_of_element_located((By.ID, "test-order")))
        seen["offer"] = driver.find_element(By.CSS_SELECTOR, "#products tbody tr td:nth-child(5)").text
        shot("campaign")
        fill({
            "o-first": "Tess",
            "o-last": "Tester",
            "o-email": "tess@example.com",
            "o-country": "US",
            "o-card": "4242 4242 4242 4242",
            "o-month": "12",
            "o-year": "2034",
            "o-cvc": "123",
        })
        driver.find_element(By.ID, "place-test-order").click()
        wait.until(ec.visibility_of_element_located((By.ID, "account-payments")))
        seen["ordered"] = driver.find_element(By.CSS_SELECTOR, ".notice").text
        shot("test-order-profile")

        driver.find_element(By.CSS_SELECTOR, "button.bill-now").click()
        notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".notice")))
        seen["billed"] = notice.text
        seen["profile_payments"] = [
            tr.find_element(By.CSS_SELECTOR, "td:nth-child(3)").text
            for tr in driver.find_elements(By.CSS_SELECTOR, "#account-payments tbody tr")
        ]
        seen["purchase_cycle"] = driver.find_element(By.CSS_SELECTOR, "#purchases tbody tr td:nth-child(4)").text
        shot("force-bill-now")
        driver.find_elements(By.CSS_SELECTOR, "#account-payments button.refund")[-1].click()
        notice = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".notice")))
        seen["refunded"] = notice.text
        seen["statuses"] = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#account-payments td.status")]
        shot("refunded")

        driver.get(base + "/console/routing_profiles")
        wait.until(ec.visibility_of_element_located((By.ID, "new-routing-profile")))
        shot("routing-profiles")
        driver.get(base + "/console/collection_groups")
        wait.until(ec.visibility_of_element_located((By.ID, "new-group")))
        shot("collection-groups")

        driver.get(base + "/console/payments")
        wait.until(ec.visibility_of_element_located((By.ID, "payments")))
        seen["payments"] = len(driver.find_elements(By.CSS_SELECTOR, "#payments tbody tr"))
        shot("payments")

        driver.get(base + "/console/customers?q=C-1")
        wait.until(ec.visibility_of_element_located((By.ID, "customers")))
        shot("customers")

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
