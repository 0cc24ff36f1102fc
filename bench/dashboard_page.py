"""The dashboard page under a log flood, in headless Chromium (Debian's chromium + selenium):
every second, the main thread's busy time (Chrome's TaskDuration, through the DevTools
protocol) and how long a round trip into the page takes (a script waits for the main thread);
for every flood line, the delay from its write to its row in the page (a MutationObserver in the
page). Prints one JSON object of medians and maxima."""
import json
import statistics
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

url, seconds = sys.argv[1], int(sys.argv[2])
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000", "--disable-dev-shm-usage"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.get(url)
time.sleep(2)
driver.execute_script("""
window.__delays = [];
new MutationObserver((records) => {
  const now = Date.now();
  for (const record of records) for (const node of record.addedNodes) {
    const match = /flood seq=\\d+ sent_ms=(\\d+)/.exec(node.textContent || "");
    if (match) window.__delays.push(now - Number(match[1]));
  }
}).observe(document.getElementById("logs"), { childList: true });
""")
driver.execute_cdp_cmd("Performance.enable", {})


def task_seconds():
    metrics = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")


busy, round_trips = [], []
last = task_seconds()
for _ in range(seconds):
    time.sleep(1)
    start = time.perf_counter()
    driver.execute_script("return document.querySelectorAll('#logs .line').length")
    round_trips.append((time.perf_counter() - start) * 1000)
    now = task_seconds()
    busy.append((now - last) * 1000)
    last = now
delays = driver.execute_script("return window.__delays")
rows = driver.execute_script("return document.querySelectorAll('#logs .line').length")
driver.quit()
delays.sort()
print(json.dumps({
    "seconds": seconds,
    "lines_seen": len(delays),
    "rows_in_dom": rows,
    "delay_ms_median": statistics.median(delays) if delays else None,
    "delay_ms_p99": delays[int(len(delays) * 0.99) - 1] if delays else None,
    "delay_ms_max": delays[-1] if delays else None,
    "main_thread_ms_per_s_median": round(statistics.median(busy), 1),
    "main_thread_ms_per_s_max": round(max(busy), 1),
    "round_trip_ms_median": round(statistics.median(round_trips), 1),
    "round_trip_ms_max": round(max(round_trips), 1),
}))
