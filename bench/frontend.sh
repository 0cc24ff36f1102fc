#!/usr/bin/env bash
# The web frontend's weight and start-up (issue 17; not a test, prints figures): the production
# bundle's gzip size, with React's share measured by bundling React alone the same way, and the
# time to interactive of the built page in headless Chromium (Performance API: DOMContentLoaded,
# load, and the first render of the log-in form), median of ROUNDS (7) cold loads, served by
# Python's http.server with the SPA fallback the web service has. Target: bundle ≤ 80 kB gzip
# excluding React.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-7}
sh frontend/build.sh >/dev/null
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
app=$(ls frontend/dist/assets/app-*.js); css=$(ls frontend/dist/assets/app-*.css)
# React alone, bundled and minified as the app is.
printf 'import { createRoot } from "react-dom/client"; import { createElement, useState } from "react";\nexport { createRoot, createElement, useState };\n' > "$work/react-only.ts"
NODE_PATH=/usr/share/nodejs esbuild "$work/react-only.ts" --bundle --minify --format=esm --define:process.env.NODE_ENV='"production"' \
    --outfile="$work/react-only.js" --log-level=warning
gz() { gzip -9 -c "$1" | wc -c; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/serve.py" <<'PY'
import http.server, os, sys
root = sys.argv[2]
class SPA(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k): super().__init__(*a, directory=root, **k)
    def send_head(self):
        if not os.path.exists(os.path.join(root, self.path.lstrip("/").split("?")[0])) and "." not in self.path.rsplit("/", 1)[-1]:
            self.path = "/index.html"
        return super().send_head()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), SPA).serve_forever()
PY
python3 "$work/serve.py" "$port" frontend/dist & server=$!
sleep 0.5
/usr/bin/python3 - "http://127.0.0.1:$port/login" "$rounds" "$(gz "$app")" "$(gz "$work/react-only.js")" "$(gz "$css")" "$(wc -c < "$app")" <<'PY'
import json, statistics, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
url, rounds, app_gz, react_gz, css_gz, app_raw = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
marks = []
for _ in range(rounds):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)  # a cold browser each round
    driver.get(url)
    for _ in range(100):
        if driver.execute_script("return !!document.getElementById('login-email')"):
            break
        time.sleep(0.05)
    marks.append(driver.execute_script("""
      const n = performance.getEntriesByType('navigation')[0];
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, fcp: paint ? paint.startTime : null };"""))
    driver.quit()
median = lambda key: statistics.median(m[key] for m in marks if m[key] is not None)
print(f"web frontend (production build, {rounds} cold loads in headless Chromium)")
print(f"  bundle app.js                 {app_raw/1024:.1f} KiB minified, {app_gz/1024:.1f} KiB gzip (React alone: {react_gz/1024:.1f} KiB gzip)")
print(f"  bundle excluding React        {(app_gz - react_gz)/1024:.1f} KiB gzip + css {css_gz/1024:.1f} KiB   target ≤ 80 kB: {'PASS' if app_gz - react_gz + css_gz <= 80_000 else 'MISS'}")
print(f"  DOMContentLoaded              median {median('dcl'):.0f} ms")
print(f"  first contentful paint        median {median('fcp'):.0f} ms (the log-in form rendered)")
print(f"  load                          median {median('load'):.0f} ms")
PY
