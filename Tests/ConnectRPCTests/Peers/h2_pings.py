"""Raw HTTP/2 over a plain socket: sends the client preface, SETTINGS, then COUNT PINGs at once,
and reads frames until COUNT PING acks or a GOAWAY arrived (or the socket closed / 5 s passed).
Prints {"acks": N, "goaway_error": CODE or null, "goaway_debug": TEXT, "closed": BOOL}.

Usage: h2_pings.py HOST PORT COUNT
"""
import json
import socket
import struct
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


connection = socket.create_connection((host, port), timeout=5)
connection.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0)
                   + b"".join(frame(6, 0, 0, struct.pack(">Q", n)) for n in range(count)))
result = {"acks": 0, "goaway_error": None, "goaway_debug": "", "closed": False}
buffer = b""
deadline = time.monotonic() + 5
while time.monotonic() < deadline and result["acks"] < count and result["goaway_error"] is None:
    try:
        chunk = connection.recv(65536)
    except (socket.timeout, ConnectionResetError):
        result["closed"] = True
        break
    if not chunk:
        result["closed"] = True
        break
    buffer += chunk
    while len(buffer) >= 9:
        length = int.from_bytes(buffer[0:3], "big")
        if len(buffer) < 9 + length:
            break
        kind, flags, payload = buffer[3], buffer[4], buffer[9:9 + length]
        buffer = buffer[9 + length:]
        if kind == 6 and flags & 1:
            result["acks"] += 1
        elif kind == 7:
            result["goaway_error"] = int.from_bytes(payload[4:8], "big")
            result["goaway_debug"] = payload[8:].decode(errors="replace")
print(json.dumps(result))
