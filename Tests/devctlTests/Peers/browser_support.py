"""What the browser tests share: headless Chromium from Debian (selenium on /usr/bin/python3),
numbered steps, waiting for a condition, and a screenshot of each step and of a failure."""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


class Browser:
    def __init__(self, artifacts, width, height):
        os.makedirs(artifacts, exist_ok=True)
        self.artifacts = artifacts
        self.steps = 0
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}", "--disable-dev-shm-usage"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.artifacts, f"{name}.png"))

    def fail(self, message):
        self.shot("failure")
        print(f"FAIL: {message}", flush=True)
        self.driver.quit()
        sys.exit(1)

    def step(self, text):
        self.steps += 1
        print(f"step {self.steps}: {text}", flush=True)

    def wait(self, condition, seconds, what):
        """The condition's first truthy value, polled every 0.1 s; a failure after `seconds`."""
        deadline = time.time() + seconds
        last = None
        while time.time() < deadline:
            try:
                last = condition()
                if last:
                    return last
            except Exception as error:  # an element re-rendered under us: look again
                last = error
            time.sleep(0.1)
        self.fail(f"{what} (within {seconds} s; last seen: {last!r})")

    def console_errors(self, ignoring=()):
        return [entry for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE" and not any(text in entry["message"] for text in ignoring)]

    def done(self):
        print(f"ok: {self.steps} steps; screenshots in {self.artifacts}", flush=True)
        self.driver.quit()
