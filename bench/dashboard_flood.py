"""A service that floods its log: RATE lines a second, each saying when it was written
(`flood seq=N sent_ms=EPOCH_MS`), and answers 200 on PORT (its readiness). bench/dashboard.sh
runs it as a `command:` service of the stack, so its lines take the real path: pipe →
supervisor → event ring → Server-Sent Events → the page."""
import http.server
import sys
import threading
import time

port, rate = int(sys.argv[1]), float(sys.argv[2])


class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


threading.Thread(target=http.server.ThreadingHTTPServer(("127.0.0.1", port), Ok).serve_forever, daemon=True).start()
started, sequence = time.time(), 0
while True:
    sequence += 1
    # The level and a few fields make it a JSON line like the services' (parsed by the page).
    print(f'{{"level":"info","msg":"flood seq={sequence} sent_ms={int(time.time() * 1000)}","service":"flood","n":{sequence}}}', flush=True)
    delay = started + sequence / rate - time.time()
    if delay > 0:
        time.sleep(delay)
