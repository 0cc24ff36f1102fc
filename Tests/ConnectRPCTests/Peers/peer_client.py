"""The Python connectrpc client, calling a Swift Connect server: one JSON line per scenario.

Usage: peer_client.py STUBS_DIR BASE_URL
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
from connectrpc.codec import proto_binary_codec, proto_json_codec  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from greeter.v1.greeter_connect import GreeterServiceClientSync  # noqa: E402
from greeter.v1.greeter_pb import GreetRequest  # noqa: E402

base = sys.argv[2]
results = {}


def call(label, name, codec=None, timeout_ms=None, headers=None, send_compression="default"):
    kwargs = {"codec": codec or proto_binary_codec()}
    if send_compression is None:
        kwargs["send_compression"] = None
    with GreeterServiceClientSync(base, **kwargs) as client:
        try:
            response = client.greet(GreetRequest(name=name), timeout_ms=timeout_ms, headers=headers)
            results[label] = {"message": response.message, "status": response.external_status}
        except ConnectError as error:
            results[label] = {"code": error.code.value, "error": error.message}


call("json", "Ada", codec=proto_json_codec())
call("binary", "Ada")
call("identity", "Ada", send_compression=None)
call("empty", "")
call("big", "big:20000")
for code in ["canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
             "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
             "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"]:
    call("error:" + code, "error:" + code)
call("timeout", "sleep:3000", timeout_ms=300)
call("headers", "headers", headers={"x-user-id": "user-42"})
print(json.dumps(results))
