"""PyPI's grpcio (gRPC over h2c, prior knowledge) and connectrpc (gRPC-Web over HTTP/1.1)
calling a Swift server's unary Greet: one JSON object with a result per scenario.

Usage: grpc_client.py STUBS_DIR HOST:PORT
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from connectrpc.codec import proto_binary_codec, proto_json_codec  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from connectrpc.protocol import ProtocolType  # noqa: E402
from greeter.v1.greeter_connect import GreeterServiceClientSync  # noqa: E402
from greeter.v1.greeter_pb import GreetRequest, GreetResponse  # noqa: E402

target = sys.argv[2]
codec = proto_binary_codec()
results = {}
channel = grpc.insecure_channel(target)
greet = channel.unary_unary(
    "/greeter.v1.GreeterService/Greet",
    request_serializer=codec.encode,
    response_deserializer=lambda data: codec.decode(data, GreetResponse),
)


def grpc_call(label, name, **kwargs):
    try:
        response, call = greet.with_call(GreetRequest(name=name), **kwargs)
        results[label] = {
            "message": response.message,
            "initial": {k: v for k, v in call.initial_metadata() if not k.endswith("-bin")},
            "trailing": {k: v for k, v in call.trailing_metadata() if not k.endswith("-bin")},
        }
    except grpc.RpcError as error:
        trailing = dict(error.trailing_metadata() or ())
        results[label] = {
            "code": error.code().name,
            "error": error.details(),
            "details_bin": trailing.get("grpc-status-details-bin", b"").hex(),
            "trailing": {k: v for k, v in trailing.items() if not k.endswith("-bin")},
        }


grpc_call("ok", "Ada")
grpc_call("gzip", "Ada", compression=grpc.Compression.Gzip)
grpc_call("big", "big:20000")
grpc_call("headers", "headers", metadata=[("x-user-id", "user-42")])
grpc_call("timeout", "sleep:3000", timeout=0.3)
grpc_call("details", "error-details")
grpc_call("metadata-on-error", "fail-with-metadata")
grpc_call("unicode-error", "error:invalid_argument ünïcode % 100")
for code in ["canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
             "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
             "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"]:
    grpc_call("grpc:" + code, "error:" + code)
try:
    channel.unary_unary("/greeter.v1.GreeterService/Nope")(b"", timeout=5)
    results["unknown-method"] = {"code": "OK"}
except grpc.RpcError as error:
    results["unknown-method"] = {"code": error.code().name}
channel.close()


def web_call(label, name, codec=None, timeout_ms=None):
    with GreeterServiceClientSync("http://" + target, protocol=ProtocolType.GRPC_WEB, codec=codec or proto_binary_codec()) as client:
        try:
            response = client.greet(GreetRequest(name=name), timeout_ms=timeout_ms)
            results[label] = {"message": response.message}
        except ConnectError as error:
            results[label] = {"code": error.code.value, "error": error.message}


web_call("web:ok", "Ada")
web_call("web:json", "Ada", codec=proto_json_codec())
web_call("web:error", "error:not_found")
web_call("web:timeout", "sleep:3000", timeout_ms=300)
print(json.dumps(results))
