"""The dashboard in a real headless Chromium (Debian's chromium + chromium-driver, selenium on
/usr/bin/python3), against a running `devctl up --watch` stack whose build is a fake that fails
while the watched source file says BROKEN.

Steps (each must hold, else exit 1 with what was seen; screenshots in --artifacts):
  every resource ready · kill -9 of caller → its restart count rises without a reload ·
  the filter narrows the logs (text and /regex/) · the restart button restarts auth ·
  a broken build shows the banner with file:line and a red title/favicon, the fix clears it ·
  a log line's trace link opens the waterfall · no console errors.
"""
import argparse
import json
import os
import signal
import time
import urllib.request

from browser_support import Browser
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--edge", required=True)
parser.add_argument("--source-file", required=True, help="the watched file the fake build reads")
parser.add_argument("--artifacts", required=True)
args = parser.parse_args()

browser = Browser(args.artifacts, 1400, 1100)
driver, shot, fail, step, wait = browser.driver, browser.shot, browser.fail, browser.step, browser.wait


def row(name):
    return driver.find_element(By.CSS_SELECTOR, f'#resources tbody tr[data-name="{name}"]')


def cell(name, column):
    return row(name).find_element(By.CSS_SELECTOR, f"td.{column}").text


def api(path):
    with urllib.request.urlopen(args.url + path, timeout=5) as response:
        return json.load(response)


def visible_lines():
    return [node.text for node in driver.find_elements(By.CSS_SELECTOR, "#logs .line")]


def set_filter(text):
    box = driver.find_element(By.ID, "log-filter")
    # clear() fires no input event: erase the way a user does.
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)
    time.sleep(0.3)


step("every resource is shown ready")
driver.get(args.url)
names = [p["name"] for p in api("/api/v1/state")["stack"]["processes"]]
wait(lambda: all(cell(n, "state") == "ready" for n in names), 60, f"rows of {names} all ready")
wait(lambda: cell("postgres", "state") == "ready", 5, "postgres row ready")
wait(lambda: driver.find_element(By.ID, "conn").text == "live", 10, "event stream live")
shot("01-ready")

step("kill -9 caller: its restart count rises on the page without a reload")
driver.execute_script("window.__notReloaded = true")
restarts = int(cell("caller", "restarts"))
pid = int(cell("caller", "pid"))
os.kill(pid, signal.SIGKILL)
wait(lambda: int(cell("caller", "restarts")) == restarts + 1, 30, "caller's restart count up by one")
wait(lambda: cell("caller", "state") == "ready" and cell("caller", "pid") not in ("", str(pid)), 30, "caller ready again with a new pid")
if not driver.execute_script("return window.__notReloaded === true"):
    fail("the page reloaded")
shot("02-caller-restarted")

step("the filter narrows the logs")
wait(lambda: len(visible_lines()) > 10, 10, "log lines shown")
everything = len(visible_lines())
set_filter("ready in")
narrowed = wait(lambda: (lambda lines: lines if lines and all("ready in" in l.lower() for l in lines) else None)(visible_lines()), 5, "only lines with 'ready in'")
if len(narrowed) >= everything:
    fail(f"the text filter did not narrow: {len(narrowed)} of {everything}")
set_filter("/exited with status \\d+/")
wait(lambda: (lambda lines: lines and all("exited with status" in l for l in lines))(visible_lines()), 5, "only the regex's lines (caller's kill)")
shot("03-filtered")
set_filter("")
wait(lambda: len(visible_lines()) >= everything, 5, "all lines back without the filter")

step("the restart button restarts auth (and only auth)")
auth_pid = cell("auth", "pid")
others = {n: cell(n, "pid") for n in names if n != "auth"}
row("auth").find_element(By.CSS_SELECTOR, "button.restart").click()
wait(lambda: cell("auth", "pid") not in ("", auth_pid) and cell("auth", "state") == "ready", 30, "auth ready with a new pid")
changed = {n: (pid, cell(n, "pid")) for n, pid in others.items() if cell(n, "pid") != pid}
if changed:
    fail(f"other processes restarted too: {changed}")
shot("04-auth-restarted")

step("a broken build shows the banner, the error's file:line, and a red title and favicon")
with open(args.source_file, "w") as source:
    source.write("struct Greeter { BROKEN }\n")
banner = wait(lambda: driver.find_element(By.ID, "banner").is_displayed() and driver.find_element(By.ID, "banner"), 30, "the broken-build banner")
wait(lambda: "GreeterService.swift:3:5" in banner.text, 5, "the error's file:line in the banner")
if not driver.title.startswith("✖"):
    fail(f"the title does not say something is broken: {driver.title!r}")
if "cf222e" not in driver.find_element(By.ID, "favicon").get_attribute("href"):
    fail("the favicon is not red")
if "GreeterService.swift:3:5" not in driver.find_element(By.ID, "build-errors").text:
    fail("the build panel does not list the error")
shot("05-build-broken")
with open(args.source_file, "w") as source:
    source.write("struct Greeter { let version = 3 }\n")
wait(lambda: not driver.find_element(By.ID, "banner").is_displayed(), 60, "the banner gone once the build is fixed")
wait(lambda: not driver.title.startswith("✖"), 60, f"the title clear again")

step("a trace opens from a log line")
body = json.dumps({"email": f"browser-{int(time.time())}@example.com", "password": "browser-test-1"}).encode()
request = urllib.request.Request(args.edge + "/auth/signup", data=body, headers={"Content-Type": "application/json"}, method="POST")
with urllib.request.urlopen(request, timeout=10) as response:
    response.read()
select = driver.find_element(By.ID, "log-source")
for option in select.find_elements(By.TAG_NAME, "option"):
    if option.get_attribute("value") == "auth":
        option.click()
link = wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#logs .line a.trace")[-1], 10, "an auth log line with a trace link")
trace_id = link.get_attribute("data-trace")
time.sleep(1.5)  # the services export spans every 500 ms
link.click()
wait(lambda: driver.find_element(By.ID, "panel-traces").is_displayed(), 5, "the traces panel")
spans = wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#trace-view .span"), 15, f"the waterfall of trace {trace_id}")
if trace_id not in driver.find_element(By.ID, "trace-view").text:
    fail(f"the waterfall is not trace {trace_id}")
services = {node.find_element(By.CSS_SELECTOR, ".svc").text for node in spans}
if "auth" not in services:
    fail(f"no auth span in the waterfall: {services}")
shot("06-trace")

step("no console errors")
errors = browser.console_errors()
if errors:
    fail(f"console errors: {errors}")
browser.done()
