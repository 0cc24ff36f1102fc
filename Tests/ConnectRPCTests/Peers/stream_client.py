"""Server streaming against a Swift server's test route /test.v1.CountService/Count (GreetRequest
in, GreetResponse out): grpcio over h2c, and the connectrpc client with Connect and gRPC-Web.

The name decides: "count:N" sends N messages, "fail:N" sends N then fails with aborted,
"slow" sends one message every 100 ms until the deadline.
Usage: stream_client.py STUBS_DIR HOST:PORT
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from connectrpc.client import ConnectClientSync  # noqa: E402
from connectrpc.codec import proto_binary_codec, proto_json_codec  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType  # noqa: E402
from connectrpc.protocol import ProtocolType  # noqa: E402
from greeter.v1.greeter_pb import GreetRequest, GreetResponse  # noqa: E402

target = sys.argv[2]
codec = proto_binary_codec()
results = {}

channel = grpc.insecure_channel(target)
count = channel.unary_stream(
    "/test.v1.CountService/Count",
    request_serializer=codec.encode,
    response_deserializer=lambda data: codec.decode(data, GreetResponse),
)


def grpc_stream(label, name, **kwargs):
    seen = []
    try:
        for response in count(GreetRequest(name=name), **kwargs):
            seen.append(response.message)
        results[label] = {"messages": seen, "code": "OK"}
    except grpc.RpcError as error:
        results[label] = {"messages": seen, "code": error.code().name, "error": error.details()}


grpc_stream("grpc:3", "count:3")
grpc_stream("grpc:0", "count:0")
grpc_stream("grpc:fail", "fail:2")
grpc_stream("grpc:gzip", "count:2", compression=grpc.Compression.Gzip)
grpc_stream("grpc:deadline", "slow", timeout=0.35)
channel.close()

method = MethodInfo(name="Count", service_name="test.v1.CountService", input=GreetRequest, output=GreetResponse,
                    idempotency_level=IdempotencyLevel.UNKNOWN, stream_type=StreamType.SERVER_STREAM)


def connect_stream(label, name, protocol, codec=None, timeout_ms=None):
    seen = []
    with ConnectClientSync("http://" + target, protocol=protocol, codec=codec or proto_binary_codec()) as client:
        try:
            for response in client.execute_server_stream(request=GreetRequest(name=name), method=method, timeout_ms=timeout_ms):
                seen.append(response.message)
            results[label] = {"messages": seen, "code": "ok"}
        except ConnectError as error:
            results[label] = {"messages": seen, "code": error.code.value, "error": error.message}


for name, protocol in [("connect", ProtocolType.CONNECT), ("web", ProtocolType.GRPC_WEB)]:
    connect_stream(name + ":3", "count:3", protocol)
    connect_stream(name + ":json", "count:2", protocol, codec=proto_json_codec())
    connect_stream(name + ":fail", "fail:2", protocol)
    connect_stream(name + ":deadline", "slow", protocol, timeout_ms=350)
print(json.dumps(results))
