"""The web frontend in a real headless Chromium (Debian's chromium + chromium-driver, selenium on
/usr/bin/python3), served by the stack through its edge at /.

Steps (each must hold, else exit 1 with what was seen; screenshots in --artifacts):
  a weak password shows the rule it breaks and nothing is sent · sign up · log in · greet (the
  message shown) · invoke `notfound` (its not_found error shown) · an invoke from a second tab
  appears in the live list · the language preference is saved and read back · log out → a
  protected page sends you to log in · a token the server rejects → back to log in with a notice ·
  usable at 360 px wide · no console errors.
"""
import argparse
import base64
import json
import time

from browser_support import Browser
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

parser = argparse.ArgumentParser()
parser.add_argument("--edge", required=True)
parser.add_argument("--artifacts", required=True)
args = parser.parse_args()
edge = args.edge.rstrip("/")

browser = Browser(args.artifacts, 1280, 900)
driver, shot, fail, step, wait = browser.driver, browser.shot, browser.fail, browser.step, browser.wait


def find(selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def type_into(selector, text):
    box = find(selector)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    box.send_keys(text)


def requests_to(path):
    return driver.execute_script("return performance.getEntriesByType('resource').filter(e => e.name.endsWith(arguments[0])).length", path)


email = f"browser-{int(time.time() * 1000)}@example.com"
password = "frontend1843"

step("a weak password shows the rule it breaks, and nothing is sent")
driver.get(edge + "/signup")
wait(lambda: find("#signup-email"), 15, "the sign-up form")
type_into("#signup-email", email)
type_into("#signup-password", "short")
rules = {node.text.strip("✓✗ "): node.get_attribute("data-ok") for node in driver.find_elements(By.CSS_SELECTOR, "#password-rules li")}
if rules.get("at least 8 characters") != "false" or rules.get("a digit") != "false" or rules.get("a letter") != "true":
    fail(f"the rules do not follow the password as typed: {rules}")
find("form button[type=submit]").click()
wait(lambda: "Fix what is marked" in find("[role=alert]").text, 5, "a message saying what to fix")
if requests_to("/auth/signup") != 0:
    fail("a weak password was sent to /auth/signup")
shot("01-weak-password")

step("sign up, then log in")
type_into("#signup-password", password)
wait(lambda: all(node.get_attribute("data-ok") == "true" for node in driver.find_elements(By.CSS_SELECTOR, "#password-rules li")), 5, "every rule met")
find("form button[type=submit]").click()
wait(lambda: driver.current_url.startswith(edge + "/login"), 15, "sent to log in after signing up")
wait(lambda: find("#login-email").get_attribute("value") == email, 5, "the new account's email filled in")
type_into("#login-password", password)
find("form button[type=submit]").click()
wait(lambda: driver.current_url == edge + "/greeter", 15, "the greeter page after logging in")
shot("02-logged-in")

step("greet: the message is shown")
type_into("#greet-name", "Ada")
find("form button[type=submit]").click()
message = wait(lambda: find("#greet-message").text, 20, "the greeting")
if "Ada" not in message:
    fail(f"the greeting does not name Ada: {message!r}")
shot("03-greeted")

step("invoke notfound: its not_found error is shown")
driver.find_element(By.LINK_TEXT, "Gateway").click()
wait(lambda: find("#invoke-name"), 10, "the gateway page")
wait(lambda: "live" in find("#live-title .badge").text, 15, "the live list streaming")
type_into("#invoke-name", "notfound")
find("#invoke-name").send_keys(Keys.ENTER)
error = wait(lambda: find("[role=alert][data-code]"), 15, "the invoke error")
if error.get_attribute("data-code") != "not_found":
    fail(f"notfound was shown as {error.get_attribute('data-code')!r}: {error.text}")
shot("04-not-found")

step("an invoke from a second tab appears in the live list")
first = driver.current_window_handle
# Opened from the app's tab, the new tab starts with a copy of its session (sessionStorage).
driver.execute_script("window.open('/gateway', '_blank')")
wait(lambda: len(driver.window_handles) == 2, 5, "a second tab")
driver.switch_to.window([handle for handle in driver.window_handles if handle != first][0])
wait(lambda: find("#invoke-name"), 10, "the gateway page in the second tab")
type_into("#invoke-name", "SecondTab")
find("#invoke-name").send_keys(Keys.ENTER)
wait(lambda: "SecondTab" in find("#invoke-message").text, 15, "the second tab's answer")
driver.close()
driver.switch_to.window(first)
wait(lambda: driver.find_elements(By.CSS_SELECTOR, '#live-invocations tr[data-name="SecondTab"]'), 15, "the second tab's invoke in the first tab's live list")
shot("05-live-list")

step("the language preference is saved and read back")
driver.find_element(By.LINK_TEXT, "Language").click()
wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#language option")) > 1, 15, "the languages")
driver.find_element(By.CSS_SELECTOR, '#language option[value="ja"]').click()
find("form button[type=submit]").click()
wait(lambda: "Saved: ja" in find("[role=status]").text, 10, "the saved notice")
driver.refresh()
wait(lambda: find("#language").get_attribute("value") == "ja", 15, "ja read back after a reload")

step("log out: a protected page sends you to log in")
driver.find_element(By.XPATH, "//button[text()='Log out']").click()
wait(lambda: driver.current_url.startswith(edge + "/login"), 10, "the log-in page after logging out")
driver.get(edge + "/gateway")
wait(lambda: driver.current_url.startswith(edge + "/login?next="), 10, "a protected page redirecting to log in")
shot("06-logged-out")

step("a token the server rejects (expired or forged) sends you back to log in")
# Claims that look fine to the page (exp in the future) but a signature the edge refuses.
claims = {"sub": "nobody", "exp": int(time.time()) + 3600}

payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
forged = f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2lnbmF0dXJl"
driver.execute_script("sessionStorage.setItem('devctl.session', JSON.stringify(arguments[0]))",
                      {"token": forged, "email": email, "userId": "nobody", "expiresAt": (claims["exp"]) * 1000})
driver.get(edge + "/greeter")
wait(lambda: find("#greet-name"), 10, "the greeter page with the forged session")
find("form button[type=submit]").click()
wait(lambda: driver.current_url.startswith(edge + "/login"), 15, "back to log in after the server refused the token")
wait(lambda: "expired" in find(".notice").text, 5, "a notice saying the session expired")
shot("07-expired")

step("usable at 360 px wide")
driver.set_window_size(360, 780)
driver.get(edge + "/login")
wait(lambda: find("#login-email"), 10, "the log-in page")
width = driver.execute_script("return document.documentElement.scrollWidth")
if width > 360:
    fail(f"the page scrolls sideways at 360 px ({width} px wide)")
shot("08-narrow")

step("no console errors")
errors = browser.console_errors(ignoring=["Failed to load resource"])
if errors:
    fail(f"console errors: {errors}")
browser.done()
