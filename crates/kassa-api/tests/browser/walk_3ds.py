"""Walks a 3-D Secure challenge in headless Chromium, as a shopper would.

    walk_3ds.py REDIRECT_ISSUER_URL complete|fail TERMINATION_URL

Opens the emulator's hosted challenge page (Kassa's `redirect_issuer_url`), checks it is the
challenge page, clicks Complete or Fail, and follows the redirects (emulator -> Kassa's
/3ds/return/{payment_id} -> the merchant's termination URL) until the browser is on the
termination page. Prints one JSON object on stdout:

    {"final_url": ..., "payment_id": ..., "outcome": ..., "title": ...,
     "screenshot": ..., "challenge_screenshot": ..., "challenge_heading": ..., "amount": ...}

The screenshots are PNG files in a temporary folder that is kept (their paths are also printed
on stderr). Chromium and chromedriver are Debian's (scripts/browser-env); Selenium Manager never
downloads anything: the driver path is given and SE_OFFLINE is set.
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

BUTTONS = {"complete": "Complete", "fail": "Fail"}


def log(*args):
    print("walk_3ds:", *args, file=sys.stderr, flush=True)


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in BUTTONS:
        sys.exit(f"usage: {sys.argv[0]} REDIRECT_ISSUER_URL complete|fail TERMINATION_URL")
    redirect_url, which, termination = sys.argv[1], sys.argv[2], sys.argv[3]
    shots = tempfile.mkdtemp(prefix="kassa-browser-")
    profile = tempfile.mkdtemp(prefix="kassa-chromium-profile-")
    driver = None
    try:
        driver = browser(profile, size="1024,768")
        wait = WebDriverWait(driver, WAIT_SECONDS)

        # The issuer's (emulator's) hosted challenge page.
        driver.get(redirect_url)
        heading = wait.until(ec.visibility_of_element_located((By.TAG_NAME, "h1"))).text
        amount = driver.find_element(By.TAG_NAME, "p").text
        challenge_shot = os.path.join(shots, f"challenge-{which}.png")
        driver.save_screenshot(challenge_shot)
        log("challenge page screenshot:", challenge_shot)
        label = BUTTONS[which]
        button = wait.until(
            ec.element_to_be_clickable((By.XPATH, f"//button[normalize-space()='{label}']"))
        )
        button.click()

        # Emulator -> Kassa's return endpoint -> the termination page.
        wait.until(lambda d: d.current_url.startswith(termination))
        outcome = wait.until(ec.visibility_of_element_located((By.ID, "outcome"))).text
        payment_id = driver.find_element(By.ID, "payment-id").text
        shot = os.path.join(shots, f"termination-{which}.png")
        driver.save_screenshot(shot)
        log("termination page screenshot:", shot)
        print(
            json.dumps(
                {
                    "final_url": driver.current_url,
                    "title": driver.title,
                    "payment_id": payment_id,
                    "outcome": outcome,
                    "screenshot": shot,
                    "challenge_screenshot": challenge_shot,
                    "challenge_heading": heading,
                    "amount": amount,
                }
            ),
            flush=True,
        )
    except BaseException:
        if driver is not None:
            try:
                log("failed at", driver.current_url)
                log("page source:", driver.page_source[:4000])
                failed = os.path.join(shots, f"failed-{which}.png")
                driver.save_screenshot(failed)
                log("screenshot at failure:", failed)
            except Exception as e:  # the browser itself may be gone
                log("no page state:", repr(e))
        raise
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
