"""webtest.py - what the status page's browser tests share (web_browser.py,
web_mapping.py, web_import_map.py): headless Chromium through chromedriver,
`ok - ...` / `not ok - ...` checks, polling a page that re-renders on its
own timer, and screenshots into the test's output folder.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

passed = 0
failed = 0
outdir = "."


def check(desc, cond):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + desc, flush=True)
    else:
        failed += 1
        print("not ok - " + desc, flush=True)
    return cond


def wait(driver, fn, seconds):
    """Polls fn(driver) until it is truthy; returns its value or None."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            v = fn(driver)
            if v:
                return v
        except Exception:  # the page re-renders while we look
            pass
        time.sleep(0.2)
    return None


def click(driver, selector, seconds):
    """Clicks the first element matching selector, looked up afresh at each
    try: the page re-renders on its own timer, and an element found a moment
    before may be gone by the click. True once a click went through."""
    def go(d):
        found = d.find_elements(By.CSS_SELECTOR, selector)
        if not found:
            return False
        found[0].click()
        return True
    return wait(driver, go, seconds)


def shot(driver, name):
    driver.save_screenshot(os.path.join(outdir, name + ".png"))


def start(out, height):
    """A headless Chromium of 1200 x height pixels; screenshots go to out."""
    global outdir
    outdir = out
    os.makedirs(outdir, exist_ok=True)
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,%d" % height, "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def finish():
    """The last line, `N passed, N failed`; exits non-zero on a failure."""
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
