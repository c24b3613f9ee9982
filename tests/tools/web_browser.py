#!/usr/bin/python3
"""web_browser.py - drives the status page in headless Chromium (Debian's
chromium + chromium-driver + python3-selenium), as tests/e2e/web.sh asks:

  web_browser.py LINK FILE FOLDER OUTDIR [RESUME]

  1. opens the one-time LINK and waits for the overview;
  2. on Jobs, finds the job of the file the shell dropped into the folder
     still short of 100 % (the shell holds the cloud back), runs the shell
     command RESUME (which lets the cloud go on), and watches the same page,
     not reloaded, until its progress bar reaches 100 %;
  3. opens that job's page (its failed rows and suggestions);
  4. on Import, builds a File in the page from FILE's bytes, puts it in a
     DataTransfer and dispatches a synthetic drop on the drop zone, then
     waits for the preview (template, mapping, rows);
  5. confirms, and waits for the page to say the file is imported;
  6. the overview on a phone-sized window;
  7. "Sync now", and on Files, the Retry button of a held file.

A screenshot per step goes to OUTDIR. Prints `ok - ...` / `not ok - ...`
per check and a last line `N passed, N failed`; exits non-zero on a failure.
"""
import base64
import os
import subprocess
import sys

from selenium.webdriver.common.by import By

from webtest import check, click, finish, shot, start, wait

link, path, folder, outdir = sys.argv[1:5]
resume = sys.argv[5] if len(sys.argv) > 5 else None


driver = start(outdir, 900)
try:
    # 1. The one-time link logs in and lands on the overview.
    driver.get(link)
    ok = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".card.folder"), 15)
    check("the one-time link opens the overview with its folder", ok)
    check("the link is gone from the address bar (no token in the URL)",
          "/login" not in driver.current_url and "t=" not in driver.current_url)
    shot(driver, "01-overview")

    # 2. The job of the file the shell dropped into the folder: short of
    # 100 % while the cloud is held back, then, live, 100 %.
    driver.get(link.split("/login")[0] + "/#/jobs")
    seen = set()

    def job_waiting(d):
        for r in d.find_elements(By.CSS_SELECTOR, ".job-row"):
            pct = int(r.find_element(By.CSS_SELECTOR, ".progress").get_attribute("data-pct"))
            seen.add(pct)
            if pct < 100:
                return True
        return False

    if resume:
        check("the job shows on Jobs short of 100% while its upload waits",
              wait(driver, job_waiting, 30))
        shot(driver, "02-jobs-waiting")
        subprocess.run(resume, shell=True, check=False)

    def job_done(d):
        rows = d.find_elements(By.CSS_SELECTOR, ".job-row")
        for r in rows:
            pct = r.find_element(By.CSS_SELECTOR, ".progress").get_attribute("data-pct")
            seen.add(int(pct))
            if pct == "100" and r.get_attribute("data-state").startswith("completed"):
                return r.get_attribute("data-id")
        return None

    job_id = wait(driver, job_done, 90)
    check("the job's progress bar reaches 100%% without a reload (seen %s)" % sorted(seen),
          job_id and (not resume or min(seen) < 100))
    shot(driver, "03-jobs-100")

    # 3. Its page: the failed row, grouped, with a suggestion and the CSV link.
    if job_id:
        driver.get(link.split("/login")[0] + "/#/job/" + job_id)
        ok = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#errors .suggestion"), 15)
        check("the job page lists its failed rows with a suggestion", ok)
        check("the job page links the errors CSV",
              wait(driver, lambda d: d.find_elements(By.ID, "errors-csv"), 5))
        shot(driver, "04-job")

    # 4. Drag and drop: a File built in the page from the test file's bytes.
    driver.get(link.split("/login")[0] + "/#/import")
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
    summary = wait(driver, lambda d: d.find_element(By.ID, "preview-summary").text, 30)
    check("the dropped file is previewed: %s" % summary, summary and "valid" in summary)
    tpl = driver.find_elements(By.ID, "preview-template")
    check("the preview names the template", tpl and "generic-patients" in tpl[0].text)
    rows = driver.find_elements(By.CSS_SELECTOR, ".preview-row")
    check("the preview shows the file's rows validated (%d)" % len(rows), len(rows) > 0)
    check("the preview shows the column mapping",
          len(driver.find_elements(By.CSS_SELECTOR, "#mapping tr")) > 1)
    err = driver.find_elements(By.ID, "preview-error")
    if err:
        print("# preview error: " + err[0].text)
    shot(driver, "05-preview")

    # 5. Confirm: the file goes into the folder's pipeline.
    buttons = driver.find_elements(By.ID, "confirm")
    if check("the preview offers to import the file", buttons):
        click(driver, "#confirm", 10)
        done = wait(driver, lambda d: d.find_element(By.ID, "import-result").text, 20)
        check("the page says the file is imported: %s" % done, done and "Imported" in done)
        shot(driver, "06-imported")
        driver.get(link.split("/login")[0] + "/#/jobs")
        name = os.path.basename(path)

        def dropped_done(d):
            for r in d.find_elements(By.CSS_SELECTOR, ".job-row"):
                if name in r.text and r.find_element(By.CSS_SELECTOR, ".progress").get_attribute("data-pct") == "100":
                    return True
            return False

        check("the imported file's job reaches 100%", wait(driver, dropped_done, 60))
        shot(driver, "07-jobs-imported")

    # 6. A phone-sized screen.
    driver.set_window_size(390, 844)
    driver.get(link.split("/login")[0] + "/#/")
    ok = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".card.folder"), 15)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    check("on a phone-sized screen the overview fits its width (%s px)" % width, ok and width <= 390)
    shot(driver, "08-phone")

    # 7. Sync now, and Retry on a held file.
    driver.set_window_size(1200, 900)
    click(driver, "#sync-now", 10)
    said = wait(driver, lambda d: "Sync started" in d.find_element(By.ID, "banner").text, 10)
    check("Sync now answers that the sync started", said)
    driver.get(link.split("/login")[0] + "/#/files")
    btn = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".file-row button"), 15)
    reason = driver.find_elements(By.CSS_SELECTOR, ".file-row code")
    check("Files lists the held file with its reason (%s)" % (reason[0].text if reason else "-"),
          btn and reason and reason[0].text == "NO_TEMPLATE")
    shot(driver, "09-files")
    if btn:
        said = click(driver, ".file-row button", 10) and wait(
            driver, lambda d: "back in line" in d.find_element(By.ID, "banner").text, 10)
        check("Retry puts the held file back in line", said)
        shot(driver, "10-retried")

    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    for e in errors:
        print("# browser: " + e.get("message", ""))
    check("the page logged no error in the browser console", not errors)
finally:
    driver.quit()

finish()
