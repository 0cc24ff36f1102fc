"""Raw HTTP/2 (the `h2` library over a plain socket) against the test greeter's h2c port: what
the server does with frames that grpcio or curl do not show. Prints one JSON object:

  trailers_only  a failing unary call: its frames, in order (one HEADERS with END_STREAM expected)
  multiplexed    64 Greet calls opened at once on one connection: how many came back right
  big_stream     a 200 KB client stream (past both 64 KB windows) and its answer's length
  held           bytes a client could send to a bidi handler that stopped reading ("hold")
                 before the server's windows shut (back-pressure: bounded, not 4 MB)
  dropped        after frames the server had to drop (sent on streams it had already answered
                 and reset), whether a Greet and a 100 KB client stream still go through

Usage: h2_streams.py HOST PORT
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events

host, port = sys.argv[1], int(sys.argv[2])


def grpc_message(name):
    encoded = name.encode()
    body = b"\x0a" + varint(len(encoded)) + encoded
    return b"\x00" + len(body).to_bytes(4, "big") + body


def varint(value):
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


class Client:
    def __init__(self):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.streams = {}

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def open(self, path, end=False):
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, [(":method", "POST"), (":scheme", "http"), (":authority", f"{host}:{port}"), (":path", path),
                                        ("content-type", "application/grpc"), ("te", "trailers")], end_stream=end)
        self.streams[stream] = {"events": [], "headers": {}, "data": b"", "ended": False}
        return stream

    def read(self, until, timeout=10):
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                return False
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            if not chunk:
                return False
            for event in self.conn.receive_data(chunk):
                self.handle(event)
            self.flush()
        return True

    def handle(self, event):
        stream = getattr(event, "stream_id", 0)
        state = self.streams.get(stream)
        if state is None:
            return
        if isinstance(event, h2.events.ResponseReceived):
            state["events"].append("headers+end" if event.stream_ended else "headers")
            state["headers"].update(dict(event.headers))
        elif isinstance(event, h2.events.DataReceived):
            state["events"].append("data")
            state["data"] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, stream)
        elif isinstance(event, h2.events.TrailersReceived):
            state["events"].append("trailers")
            state["headers"].update(dict(event.headers))
        elif isinstance(event, h2.events.StreamEnded):
            state["ended"] = True
        elif isinstance(event, h2.events.StreamReset):
            state["events"].append(f"reset {event.error_code}")
            state["ended"] = True

    def send(self, stream, payload, end=False, stall_after=20):
        """Sends within the flow-control windows, waiting for the server's WINDOW_UPDATEs."""
        while payload:
            window = min(self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size)
            if window <= 0:
                if not self.read(lambda: self.conn.local_flow_control_window(stream) > 0, timeout=stall_after):
                    raise RuntimeError("stalled: no window from the server")
                continue
            chunk, payload = payload[:window], payload[window:]
            self.conn.send_data(stream, chunk, end_stream=end and not payload)
            self.flush()

    def call(self, path, payload):
        stream = self.open(path)
        self.send(stream, payload, end=True)
        self.read(lambda: self.streams[stream]["ended"])
        return self.streams[stream]


result = {}

client = Client()
failed = client.call("/greeter.v1.GreeterService/Greet", grpc_message("fail-with-metadata"))
result["trailers_only"] = {"frames": failed["events"], "grpc_status": failed["headers"].get("grpc-status"),
                           "content_type": failed["headers"].get("content-type")}

streams = []
for index in range(64):
    stream = client.open("/greeter.v1.GreeterService/Greet")
    client.conn.send_data(stream, grpc_message(f"n{index}"), end_stream=True)
    streams.append((stream, f"Hello n{index}!"))
client.flush()
client.read(lambda: all(client.streams[s]["ended"] for s, _ in streams))
result["date"] = client.streams[streams[0][0]]["headers"].get("date")
result["multiplexed"] = sum(1 for s, expected in streams
                            if expected.encode() in client.streams[s]["data"] and client.streams[s]["headers"].get("grpc-status") == "0")

names = [("x%03d" % index) * 250 for index in range(200)]
try:
    big = client.call("/test.v1.CountService/Collect", b"".join(grpc_message(name) for name in names))
    result["big_stream"] = {"grpc_status": big["headers"].get("grpc-status"), "answer_bytes": len(big["data"])}
except RuntimeError as error:
    result["big_stream"] = {"error": str(error)}

held = Client()
stream = held.open("/test.v1.CountService/Chat")
sent = len(grpc_message("hold"))
held.send(stream, grpc_message("hold"))
chunk = grpc_message("z" * 16000)
try:
    for _ in range(250):
        held.send(stream, chunk, stall_after=1)
        sent += len(chunk)
    result["held"] = sent
except RuntimeError:
    result["held"] = sent

# Streams the server answers at once (the first message fails) while the client keeps sending:
# what arrives after the server's RST_STREAM is dropped, yet it used the connection's window.
dropped = Client()
filler = grpc_message("y" * 16000)
for _ in range(3):
    stream = dropped.open("/test.v1.CountService/Collect")
    dropped.conn.send_data(stream, grpc_message("fail"))
    dropped.flush()
    time.sleep(0.3)
    for _ in range(2):
        if dropped.conn.local_flow_control_window(stream) >= len(filler):
            dropped.conn.send_data(stream, filler)
    dropped.flush()
    dropped.read(lambda: dropped.streams[stream]["ended"], timeout=5)
try:
    after = dropped.call("/greeter.v1.GreeterService/Greet", grpc_message("after"))
    more = dropped.call("/test.v1.CountService/Collect", b"".join(grpc_message(name) for name in names[:100]))
    result["dropped"] = {"greet": after["headers"].get("grpc-status"), "collect": more["headers"].get("grpc-status")}
except RuntimeError as error:
    result["dropped"] = {"error": str(error)}

print(json.dumps(result))
