"""Calls through a Swift server whose interceptors record each call: grpcio (gRPC over h2c, all
four shapes) and the connectrpc client (Connect and gRPC-Web unary); `x-refuse` metadata makes
the outer interceptor refuse. Prints {label: outcome}.

Usage: interceptor_client.py STUBS_DIR HOST:PORT
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from connectrpc.codec import proto_binary_codec  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from connectrpc.protocol import ProtocolType  # noqa: E402
from greeter.v1.greeter_connect import GreeterServiceClientSync  # noqa: E402
from greeter.v1.greeter_pb import GreetRequest, GreetResponse  # noqa: E402

target = sys.argv[2]
codec = proto_binary_codec()
results = {}
channel = grpc.insecure_channel(target)
kwargs = {"request_serializer": codec.encode, "response_deserializer": lambda data: codec.decode(data, GreetResponse)}
greet = channel.unary_unary("/greeter.v1.GreeterService/Greet", **kwargs)
count = channel.unary_stream("/test.v1.CountService/Count", **kwargs)
collect = channel.stream_unary("/test.v1.CountService/Collect", **kwargs)
chat = channel.stream_stream("/test.v1.CountService/Chat", **kwargs)

response, call = greet.with_call(GreetRequest(name="Ada"), timeout=10)
results["grpc-unary"] = response.message
trailing = dict(call.trailing_metadata())
results["grpc-unary-trailers"] = ",".join(name for name in ["outer", "inner"] if trailing.get("x-seen-by-" + name) == "yes")
results["grpc-server-stream"] = ",".join(r.message for r in count(GreetRequest(name="count:2"), timeout=10))
results["grpc-client-stream"] = collect(iter([GreetRequest(name="a"), GreetRequest(name="b")]), timeout=10).message
results["grpc-bidi"] = ",".join(r.message for r in chat(iter([GreetRequest(name="a")]), timeout=10))
try:
    greet(GreetRequest(name="Ada"), metadata=[("x-refuse", "1")], timeout=10)
    results["grpc-refused"] = "OK"
except grpc.RpcError as error:
    results["grpc-refused"] = error.code().name + " " + error.details()
try:
    greet(GreetRequest(name="error:aborted"), timeout=10)
    results["grpc-failing"] = "OK"
except grpc.RpcError as error:
    results["grpc-failing"] = error.code().name
channel.close()

for label, protocol in [("connect", ProtocolType.CONNECT), ("web", ProtocolType.GRPC_WEB)]:
    with GreeterServiceClientSync("http://" + target, protocol=protocol, codec=proto_binary_codec()) as client:
        results[label + "-unary"] = client.greet(GreetRequest(name="Ada")).message
        if label == "connect":
            try:
                client.greet(GreetRequest(name="Ada"), headers={"x-refuse": "1"})
                results["connect-refused"] = "ok"
            except ConnectError as error:
                results["connect-refused"] = error.code.value + " " + error.message
print(json.dumps(results))
