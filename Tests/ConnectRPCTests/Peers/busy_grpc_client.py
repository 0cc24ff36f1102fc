"""A busy grpcio client: THREADS threads share one connection (grpcio pools it per target) and
make CALLS calls each, a mix of answered calls and calls cut by their deadline. grpcio probes
bandwidth and checks the peer with HTTP/2 PINGs meanwhile. Prints {outcome: count}.

Usage: busy_grpc_client.py STUBS_DIR HOST:PORT THREADS CALLS
"""
import collections
import json
import sys
import threading

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from connectrpc.codec import proto_binary_codec  # noqa: E402
from greeter.v1.greeter_pb import GreetRequest, GreetResponse  # noqa: E402

codec = proto_binary_codec()
outcomes = collections.Counter()
lock = threading.Lock()
# (name, deadline in seconds): answered, cut while the handler sleeps, cut near its end.
mix = [("Ada", 5.0), ("sleep:3000", 0.02), ("sleep:50", 0.05), ("sleep:3000", 0.1), ("big:5000", 5.0)]


def worker(index):
    channel = grpc.insecure_channel(sys.argv[2])
    greet = channel.unary_unary("/greeter.v1.GreeterService/Greet", request_serializer=codec.encode,
                                response_deserializer=lambda data: codec.decode(data, GreetResponse))
    for call in range(int(sys.argv[4])):
        name, timeout = mix[(index + call) % len(mix)]
        try:
            greet(GreetRequest(name=name), timeout=timeout)
            outcome = "OK"
        except grpc.RpcError as error:
            outcome = error.code().name if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED \
                else error.code().name + ": " + (error.details() or "")
        with lock:
            outcomes[outcome] += 1
    channel.close()


threads = [threading.Thread(target=worker, args=(index,)) for index in range(int(sys.argv[3]))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(outcomes))
