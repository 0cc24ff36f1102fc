"""Every bundled RPC with every client protocol: PyPI's connectrpc client speaking Connect and
gRPC-Web over HTTP/1.1 and gRPC over h2c, against the running stack — through the edge (with a
token) for the exposed services, directly on the service port for caller (not exposed).
Prints one line per call: `label protocol OUTCOME`.

Usage: every_rpc.py PROTO_DIR EDGE_PORT CALLER_PORT CUSTOM_LANG_PORT TOKEN
"""
import subprocess
import sys
import tempfile

proto_dir, edge_port, caller_port, custom_lang_port, token = sys.argv[1:6]
stubs = tempfile.mkdtemp(prefix="every-rpc-")
subprocess.run(["protoc", "-I", proto_dir, "--py_out=" + stubs, "--connectrpc_out=" + stubs,
                "greeter/v1/greeter.proto", "gateway/v1/gateway.proto", "caller/v1/caller.proto"], check=True)
sys.path.insert(0, stubs)
from connectrpc.errors import ConnectError  # noqa: E402
from connectrpc.protocol import ProtocolType  # noqa: E402
from pyqwest import HTTPVersion, SyncClient, SyncHTTPTransport  # noqa: E402
from caller.v1.caller_connect import CallerServiceClientSync  # noqa: E402
from caller.v1.caller_pb import CallExternalRequest  # noqa: E402
from gateway.v1.gateway_connect import GatewayServiceClientSync  # noqa: E402
from gateway.v1.gateway_pb import GetOverviewRequest, InvokeCustomRequest, WatchInvocationsRequest  # noqa: E402
from greeter.v1.greeter_connect import GreeterServiceClientSync  # noqa: E402
from greeter.v1.greeter_pb import GreetRequest  # noqa: E402

auth = {"authorization": "Bearer " + token}
edge = "http://127.0.0.1:" + edge_port
for name, protocol in [("connect", ProtocolType.CONNECT), ("grpc-web", ProtocolType.GRPC_WEB), ("grpc", ProtocolType.GRPC)]:
    http_client = SyncClient(SyncHTTPTransport(http_version=HTTPVersion.HTTP2)) if protocol == ProtocolType.GRPC else None

    def call(label, function):
        try:
            print(label, name, function())
        except ConnectError as error:
            print(label, name, "ERROR", error.code.value, error.message)
        sys.stdout.flush()

    with GreeterServiceClientSync(edge, protocol=protocol, http_client=http_client) as greeter:
        call("Greet", lambda: greeter.greet(GreetRequest(name=name), headers=auth).message)
    with GatewayServiceClientSync(edge, protocol=protocol, http_client=http_client) as gateway:
        call("InvokeCustom", lambda: gateway.invoke_custom(InvokeCustomRequest(name=name), headers=auth).message)
        call("GetOverview", lambda: ",".join(s.name for s in gateway.get_overview(GetOverviewRequest(), headers=auth).services))
        # Nothing is invoked meanwhile: the stream opens through the edge and ends at its deadline
        # (the stack test checks what a watch sees).
        call("WatchInvocations", lambda: len(list(gateway.watch_invocations(WatchInvocationsRequest(), headers=auth, timeout_ms=300))))
    with CallerServiceClientSync("http://127.0.0.1:" + caller_port, protocol=protocol, http_client=http_client) as caller:
        call("CallExternal", lambda: caller.call_external(CallExternalRequest(url="http://127.0.0.1:" + custom_lang_port + "/healthz")).status_code)
