"""Client and bidirectional streaming against a Swift server's test routes (GreetRequest in,
GreetResponse out): /test.v1.CountService/Collect (client stream: "got a,b"; "fail" fails with
aborted) and /test.v1.CountService/Chat (bidi: "echo NAME" per message; "fail" fails, "hold"
waits). grpcio over h2c; the connectrpc client with CONNECT and GRPC_WEB over HTTP/1.1 and
HTTP/2 (pyqwest's h2c transport), and GRPC over HTTP/2.

Usage: shapes_client.py STUBS_DIR HOST:PORT MAX_MESSAGE_BYTES
"""
import json
import queue
import sys
import threading

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from connectrpc.client import ConnectClientSync  # noqa: E402
from connectrpc.codec import proto_binary_codec, proto_json_codec  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType  # noqa: E402
from connectrpc.protocol import ProtocolType  # noqa: E402
from greeter.v1.greeter_pb import GreetRequest, GreetResponse  # noqa: E402
from pyqwest import HTTPVersion, SyncClient, SyncHTTPTransport  # noqa: E402

target = sys.argv[2]
limit = int(sys.argv[3])
codec = proto_binary_codec()
results = {}


def names(*items):
    return iter([GreetRequest(name=item) for item in items])


channel = grpc.insecure_channel(target)
collect = channel.stream_unary("/test.v1.CountService/Collect", request_serializer=codec.encode,
                               response_deserializer=lambda data: codec.decode(data, GreetResponse))
chat = channel.stream_stream("/test.v1.CountService/Chat", request_serializer=codec.encode,
                             response_deserializer=lambda data: codec.decode(data, GreetResponse))


def grpc_result(label, call):
    try:
        results[label] = {"code": "OK", "messages": call()}
    except grpc.RpcError as error:
        results[label] = {"code": error.code().name, "error": error.details()}


grpc_result("grpc:collect", lambda: [collect(names("a", "b", "c")).message])
grpc_result("grpc:collect-empty", lambda: [collect(names()).message])
grpc_result("grpc:collect-gzip", lambda: [collect(names("a", "b"), compression=grpc.Compression.Gzip).message])
grpc_result("grpc:collect-fail", lambda: [collect(names("a", "fail", "b")).message])
grpc_result("grpc:collect-too-big", lambda: [collect(names("a", "x" * (limit + 10))).message])
grpc_result("grpc:chat", lambda: [r.message for r in chat(names("a", "b"))])
grpc_result("grpc:chat-empty", lambda: [r.message for r in chat(names())])
grpc_result("grpc:chat-fail", lambda: [r.message for r in chat(names("a", "fail"))])


# Full duplex: each message is sent only after the answer to the previous one arrived.
def ping_pong():
    outbox = queue.Queue()
    outbox.put(GreetRequest(name="0"))

    def requests():
        while True:
            item = outbox.get()
            if item is None:
                return
            yield item

    seen = []
    for response in chat(requests(), timeout=10):
        seen.append(response.message)
        outbox.put(GreetRequest(name=str(len(seen))) if len(seen) < 5 else None)
    return seen


grpc_result("grpc:ping-pong", ping_pong)


# A deadline in the middle of a bidi stream: one answer, then the server holds.
def deadline_mid_stream():
    seen = []
    try:
        # 2 s: the first answer must arrive before the deadline even on a loaded machine.
        for response in chat(names("a", "hold"), timeout=2):
            seen.append(response.message)
        return {"code": "OK", "messages": seen}
    except grpc.RpcError as error:
        return {"code": error.code().name, "messages": seen}


results["grpc:chat-deadline"] = deadline_mid_stream()


# The client cancels after the first answer; the server must not hold the connection hostage:
# a call made right after on the same channel still works.
def cancel_mid_stream():
    call = chat(names("a", "hold"), timeout=10)
    first = next(call).message
    call.cancel()
    try:
        next(call)
        code = "OK"
    except grpc.RpcError as error:
        code = error.code().name
    after = [r.message for r in chat(names("z"), timeout=5)]
    return {"code": code, "messages": [first] + after}


results["grpc:chat-cancel"] = cancel_mid_stream()
channel.close()

collect_method = MethodInfo(name="Collect", service_name="test.v1.CountService", input=GreetRequest, output=GreetResponse,
                            idempotency_level=IdempotencyLevel.UNKNOWN, stream_type=StreamType.CLIENT_STREAM)
chat_method = MethodInfo(name="Chat", service_name="test.v1.CountService", input=GreetRequest, output=GreetResponse,
                         idempotency_level=IdempotencyLevel.UNKNOWN, stream_type=StreamType.BIDI_STREAM)


def connect_result(label, protocol, http2, call, codec=None):
    http_client = SyncClient(SyncHTTPTransport(http_version=HTTPVersion.HTTP2)) if http2 else None
    with ConnectClientSync("http://" + target, protocol=protocol, codec=codec or proto_binary_codec(),
                           http_client=http_client) as client:
        try:
            results[label] = {"code": "ok", "messages": call(client)}
        except ConnectError as error:
            results[label] = {"code": error.code.value, "error": error.message}


def run_collect(*items):
    return lambda client: [client.execute_client_stream(request=names(*items), method=collect_method).message]


def run_chat(*items):
    return lambda client: [r.message for r in client.execute_bidi_stream(request=names(*items), method=chat_method)]


for name, protocol, http2 in [("connect", ProtocolType.CONNECT, False), ("web", ProtocolType.GRPC_WEB, False),
                              ("connect-h2", ProtocolType.CONNECT, True), ("web-h2", ProtocolType.GRPC_WEB, True),
                              ("grpc-h2", ProtocolType.GRPC, True)]:
    connect_result(name + ":collect", protocol, http2, run_collect("a", "b"))
    connect_result(name + ":collect-json", protocol, http2, run_collect("a", "b"), codec=proto_json_codec())
    connect_result(name + ":collect-fail", protocol, http2, run_collect("a", "fail"))
    connect_result(name + ":chat", protocol, http2, run_chat("a", "b"))
print(json.dumps(results))
