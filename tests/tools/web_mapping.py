#!/usr/bin/python3
"""web_mapping.py - the status page's mapping screen in headless Chromium,
as tests/e2e/web.sh asks:

  web_mapping.py LINK FILENAME OUTDIR

  1. opens the one-time LINK, then Files, and the "Map columns" link of the
     held file FILENAME (held NO_TEMPLATE);
  2. checks the draft's guess is preselected with its score, and the first
     preview shows the rows with that guess;
  3. chooses the fields of the other columns and the date order, and waits
     for the preview (not reloaded) to show the rows mapped with them;
  4. names the template and saves it; waits for the page to say so.

A screenshot per step goes to OUTDIR (m1-... .png). Prints `ok - ...` /
`not ok - ...` per check and a last line `N passed, N failed`.
"""
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from webtest import check, finish, shot, start, wait

link, name, outdir = sys.argv[1:4]


def rows_text(d):
    return " | ".join(r.text for r in d.find_elements(By.CSS_SELECTOR, ".map-preview-row"))


driver = start(outdir, 1000)
base = link.split("/login")[0]
try:
    driver.get(link)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".card.folder"), 15)
    driver.get(base + "/#/files")

    def map_link(d):
        for r in d.find_elements(By.CSS_SELECTOR, ".file-row"):
            if name in r.text and r.find_elements(By.CSS_SELECTOR, "a.map-file"):
                return r.find_element(By.CSS_SELECTOR, "a.map-file")
        return None

    a = wait(driver, map_link, 30)
    check("Files offers to map the held file %s" % name, a)
    shot(driver, "m1-files")
    if a:
        a.click()
    cols = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "select.map-col"), 30)
    check("the mapping screen shows a select per column (%d)" % len(cols or []),
          cols and len(cols) == 6)
    if cols:
        check("the draft's guess is preselected: E-Mail Adresse -> email",
              Select(driver.find_element(By.ID, "map-col-4")).first_selected_option.get_attribute("value") == "email")
        score = driver.find_element(By.ID, "map-score-4").text
        check("... with its score (%s)" % score, "score 80" in score)
        check("a column no rule names is left to ignore",
              Select(driver.find_element(By.ID, "map-col-0")).first_selected_option.get_attribute("value") == "ignore")
        first = wait(driver, lambda d: "email: mapa@example.com" in rows_text(d) and rows_text(d), 30)
        check("the first preview shows the rows mapped with the draft", first)
        check("... and nothing else of them yet", first and "external_id" not in first)
        shot(driver, "m2-draft")

        for i, f in ((0, "external_id"), (1, "first_name"), (2, "last_name"), (3, "date_of_birth")):
            Select(driver.find_element(By.ID, "map-col-%d" % i)).select_by_value(f)
        Select(driver.find_element(By.ID, "map-date-order")).select_by_value("DMY")
        updated = wait(driver, lambda d: "external_id: M-501" in rows_text(d) and
                       "date_of_birth: 1981-12-24" in rows_text(d) and rows_text(d), 30)
        check("the preview follows the changed selects (%s)" % (updated or rows_text(driver))[:160], updated)
        summary = driver.find_element(By.ID, "map-preview-summary").text
        check("... 3 valid, 0 invalid (%s)" % summary, "3 valid, 0 invalid" in summary)
        shot(driver, "m3-chosen")

        box = driver.find_element(By.ID, "map-id")
        box.clear()
        box.send_keys("kartei-patients")
        driver.find_element(By.ID, "map-save").click()
        saved = wait(driver, lambda d: d.find_element(By.ID, "map-saved").text, 20)
        err = driver.find_elements(By.ID, "map-save-error")
        check("the page says the template is saved (%s)" % (saved or (err[0].text if err else "-")),
              saved and "kartei-patients" in saved and "back in line" in saved)
        shot(driver, "m4-saved")

    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    for e in errors:
        print("# browser: " + e.get("message", ""))
    check("the mapping screen logged no error in the browser console", not errors)
finally:
    driver.quit()

finish()
