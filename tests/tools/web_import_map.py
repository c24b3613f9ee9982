#!/usr/bin/python3
"""web_import_map.py - a file dropped on the Import page mapped on the
mapping screen, in headless Chromium, as tests/e2e/web.sh asks:

  web_import_map.py LINK FILE FOLDER OUTDIR

  1. opens the one-time LINK, then Import, and drops FILE (no template
     knows its header) for FOLDER (a folder of template auto);
  2. checks the preview says no template reads it and offers "Map columns";
  3. follows it: the mapping screen of the upload, named in the URL by its
     upload id only, with the draft's guesses and a first preview;
  4. chooses the fields of the columns and the date order, and waits for
     the preview (not reloaded) to show the rows mapped with them;
  5. names the template and saves it; waits for the page to say the
     template is saved and the file imported into FOLDER.

A screenshot per step goes to OUTDIR (i1-... .png). Prints `ok - ...` /
`not ok - ...` per check and a last line `N passed, N failed`.
"""
import base64
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from webtest import check, finish, shot, start, wait

link, path, folder, outdir = sys.argv[1:5]


def rows_text(d):
    return " | ".join(r.text for r in d.find_elements(By.CSS_SELECTOR, ".map-preview-row"))


driver = start(outdir, 1000)
base = link.split("/login")[0]
try:
    driver.get(link)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".card.folder"), 15)
    driver.get(base + "/#/import")
    wait(driver, lambda d: d.find_elements(By.ID, "drop"), 15)
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    driver.execute_script("""
        var bytes = Uint8Array.from(atob(arguments[0]), function (c) { return c.charCodeAt(0); });
        var file = new File([bytes], arguments[1], { type: "text/csv" });
        var sel = document.getElementById("folder-select");
        sel.value = arguments[2];
        var dt = new DataTransfer();
        dt.items.add(file);
        var zone = document.getElementById("drop");
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    """, data, os.path.basename(path), folder)
    err = wait(driver, lambda d: d.find_element(By.ID, "preview-error").text, 30)
    check("the preview of the dropped file says no template reads it (%s)" % (err or "-")[:80],
          err and "no template matches" in err.lower())
    a = wait(driver, lambda d: d.find_element(By.ID, "map-upload"), 5)
    check("... and offers \"Map columns\"", a and a.text == "Map columns")
    shot(driver, "i1-no-template")
    if a:
        a.click()
    cols = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "select.map-col"), 30)
    check("\"Map columns\" opens the mapping screen with a select per column (%d)" % len(cols or []),
          cols and len(cols) == 6)
    url = driver.current_url
    check("the screen's URL names the upload by its id alone (%s)" % url.split("#")[-1],
          "#/map/upload/" in url and all(v not in url for v in ("Upfirst", "Uplast", "example.com")))
    if cols:
        check("the draft's guess is preselected: Ref Q7 -> external_id",
              Select(driver.find_element(By.ID, "map-col-0")).first_selected_option.get_attribute("value") == "external_id")
        first = wait(driver, lambda d: driver.find_element(By.ID, "map-preview-summary").text, 30)
        check("the first preview is shown (%s)" % first, first and "2 row(s)" in first)
        before = rows_text(driver)
        check("... without the fields not chosen yet", "first_name" not in before)
        shot(driver, "i2-draft")

        for i, f in ((1, "first_name"), (2, "last_name"), (3, "date_of_birth"), (4, "email")):
            Select(driver.find_element(By.ID, "map-col-%d" % i)).select_by_value(f)
        Select(driver.find_element(By.ID, "map-date-order")).select_by_value("DMY")
        updated = wait(driver, lambda d: "email: upa@example.com" in rows_text(d) and
                       "date_of_birth: 1984-11-05" in rows_text(d) and rows_text(d), 30)
        check("the preview follows the changed selects (%s)" % (updated or rows_text(driver))[:160], updated)
        summary = driver.find_element(By.ID, "map-preview-summary").text
        check("... 2 valid, 0 invalid (%s)" % summary, "2 valid, 0 invalid" in summary)
        shot(driver, "i3-chosen")

        box = driver.find_element(By.ID, "map-id")
        box.clear()
        box.send_keys("importmap-patients")
        driver.find_element(By.ID, "map-save").click()
        saved = wait(driver, lambda d: d.find_element(By.ID, "map-saved").text, 20)
        err = driver.find_elements(By.ID, "map-save-error")
        check("the page says the template is saved and the file imported into %s (%s)" %
              (folder, saved or (err[0].text if err else "-")),
              saved and "importmap-patients" in saved and "Imported" in saved and folder in saved)
        shot(driver, "i4-saved")

    # The preview's 422 (no template) is the one failed request expected.
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE" and
              not ("/api/preview" in e.get("message", "") and "422" in e.get("message", ""))]
    for e in errors:
        print("# browser: " + e.get("message", ""))
    check("the pages logged no other error in the browser console", not errors)
finally:
    driver.quit()

finish()
