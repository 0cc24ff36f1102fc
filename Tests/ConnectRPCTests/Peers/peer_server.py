"""The Python connectrpc server (ASGI under uvicorn), for the Swift client to call.

Usage: peer_server.py STUBS_DIR PORT [hypercorn]   (uvicorn by default: HTTP/1.1 only)
Behaviour by name: "error:CODE" raises that code, "sleep:MS" waits, "big:N" answers N characters.
"""
import asyncio
import sys

sys.path.insert(0, sys.argv[1])
import uvicorn  # noqa: E402
from connectrpc.code import Code  # noqa: E402
from connectrpc.errors import ConnectError  # noqa: E402
from greeter.v1.greeter_connect import GreeterServiceASGIApplication  # noqa: E402
from greeter.v1.greeter_pb import GreetResponse  # noqa: E402


class Greeter:
    async def greet(self, request, ctx):
        name = request.name
        if name.startswith("error:"):
            raise ConnectError(Code(name[6:]), "python says " + name[6:])
        if name.startswith("sleep:"):
            await asyncio.sleep(int(name[6:]) / 1000)
        if name.startswith("big:"):
            return GreetResponse(message="x" * int(name[4:]))
        user = ctx.request_headers.get("x-user-id", "")
        return GreetResponse(message=f"Hello {name or 'World'}!" + (f" ({user})" if user else ""), external_status=200)


app = GreeterServiceASGIApplication(Greeter())
if len(sys.argv) > 3 and sys.argv[3] == "hypercorn":
    # Hypercorn serves HTTP/1.1 and h2c (prior knowledge) on one port, with HTTP/2 trailers:
    # all three protocols, gRPC included.
    from hypercorn.asyncio import serve  # noqa: E402
    from hypercorn.config import Config  # noqa: E402

    config = Config()
    config.bind = [f"127.0.0.1:{sys.argv[2]}"]
    config.loglevel = "WARNING"
    asyncio.run(serve(app, config))
else:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
