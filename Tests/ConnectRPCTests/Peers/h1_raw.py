"""Raw HTTP/1.1 against the server's connection handling: pipelining, Connection: close,
half-close, a body that arrives in pieces, malformed input. Prints one JSON object."""
import json
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])


def greet(name, extra=""):
    body = json.dumps({"name": name}).encode()
    return (f"POST /greeter.v1.GreeterService/Greet HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def connect():
    sock = socket.create_connection((host, port), timeout=20)
    return sock


class Reader:
    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def response(self):
        """One response with a Content-Length body: (status, headers, body)."""
        while b"\r\n\r\n" not in self.buffer:
            self.fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self.fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split(" ")[1]), headers, body.decode()

    def closed(self):
        """Whether the server closes the connection (nothing more arrives, then EOF)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return self.buffer == b""
                self.buffer += chunk
        except socket.timeout:
            return False


result = {}

# Three requests in one write, the first slow: three answers, in order, on one connection that
# stays open.
sock = connect()
reader = Reader(sock)
sock.sendall(greet("sleep:300") + greet("two") + greet("three"))
result["pipelined"] = [json.loads(reader.response()[2])["message"] for _ in range(3)]
sock.sendall(greet("four"))
result["after_pipelined"] = json.loads(reader.response()[2])["message"]
sock.close()

# Connection: close is answered, marked, and the server closes.
sock = connect()
reader = Reader(sock)
sock.sendall(greet("bye", "Connection: close\r\n"))
status, headers, body = reader.response()
result["close"] = {"status": status, "connection": headers.get("connection"), "closed": reader.closed()}
sock.close()

# A client that sends its request and shuts its side still gets the answer, then the close.
sock = connect()
reader = Reader(sock)
sock.sendall(greet("half"))
sock.shutdown(socket.SHUT_WR)
status, headers, body = reader.response()
result["half_close"] = {"message": json.loads(body)["message"], "closed": reader.closed()}
sock.close()

# A 300 KB body in pieces, with pauses: the handler reads it as it comes.
sock = connect()
reader = Reader(sock)
request = greet("x" * 300_000)
for offset in range(0, len(request), 50_000):
    sock.sendall(request[offset:offset + 50_000])
    time.sleep(0.05)
status, headers, body = reader.response()
result["slow_body"] = {"status": status, "length": len(json.loads(body)["message"])}
sock.close()

# A server stream: a chunked body (a chunk per message, then the end-of-stream envelope and the
# last chunk), then a HEAD request (framing fields, no body) and a unary call on the same
# connection: the framing has to be exact for the next response to parse.
sock = connect()
reader = Reader(sock)
message = json.dumps({"name": "count:3"}).encode()
body = bytes([0]) + len(message).to_bytes(4, "big") + message
sock.sendall((f"POST /test.v1.CountService/Count HTTP/1.1\r\nHost: {host}\r\n"
              f"Content-Type: application/connect+json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
while b"\r\n\r\n" not in reader.buffer:
    reader.fill()
head, reader.buffer = reader.buffer.split(b"\r\n\r\n", 1)
stream_headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in head.decode().split("\r\n")[1:]}
payload = b""
while True:
    while b"\r\n" not in reader.buffer:
        reader.fill()
    size_line, reader.buffer = reader.buffer.split(b"\r\n", 1)
    size = int(size_line, 16)
    while len(reader.buffer) < size + 2:
        reader.fill()
    chunk, crlf, reader.buffer = reader.buffer[:size], reader.buffer[size:size + 2], reader.buffer[size + 2:]
    assert crlf == b"\r\n", f"chunk not followed by CRLF: {crlf!r}"
    if size == 0:
        break
    payload += chunk
messages, flags = [], []
while payload:
    length = int.from_bytes(payload[1:5], "big")
    flags.append(payload[0])
    messages.append(json.loads(payload[5:5 + length]))
    payload = payload[5 + length:]
sock.sendall(f"HEAD /healthz-not-here HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
while b"\r\n\r\n" not in reader.buffer:
    reader.fill()
head_reply, reader.buffer = reader.buffer.split(b"\r\n\r\n", 1)
sock.sendall(greet("after-stream"))
status, headers, after = reader.response()
result["stream"] = {"transfer_encoding": stream_headers.get("transfer-encoding"), "flags": flags,
                    "messages": [m.get("message") for m in messages[:-1]],
                    "head_status": int(head_reply.split(b" ")[1]), "after": json.loads(after)["message"]}
sock.close()

# Not HTTP: 400, and the connection closes.
sock = connect()
reader = Reader(sock)
sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
status, headers, body = reader.response()
result["malformed"] = {"status": status, "closed": reader.closed()}
sock.close()

print(json.dumps(result))
