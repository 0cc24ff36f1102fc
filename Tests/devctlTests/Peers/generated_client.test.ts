// The generated TypeScript client (frontend/src/gen) against the real stack, through the edge as
// the browser calls it: sign up and log in (REST), then Greet (unary), InvokeCustom's errors,
// and WatchInvocations (a server stream). EDGE_URL says where the edge is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectError, ConnectTransport } from "../../../frontend/src/gen/connect_runtime";
import { GreeterServiceClient } from "../../../frontend/src/gen/greeter/v1/greeter_connect";
import { GatewayServiceClient } from "../../../frontend/src/gen/gateway/v1/gateway_connect";
import { GreetResponse } from "../../../frontend/src/gen/greeter/v1/greeter_pb";

const edge = process.env.EDGE_URL ?? "";

async function token(): Promise<string> {
  const account = { email: `ts-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`, password: "typescript1843" };
  const headers = { "Content-Type": "application/json" };
  const signup = await fetch(`${edge}/auth/signup`, { method: "POST", headers, body: JSON.stringify(account) });
  assert.equal(signup.status, 201, await signup.text());
  const login = await fetch(`${edge}/auth/login`, { method: "POST", headers, body: JSON.stringify(account) });
  assert.equal(login.status, 200);
  return ((await login.json()) as { token: string }).token;
}

test("the generated clients call the real services through the edge", async () => {
  assert.ok(edge, "EDGE_URL is not set");
  const bearer = await token();
  const transport = new ConnectTransport({
    baseUrl: edge,
    timeoutMs: 10_000,
    interceptors: [(next) => async (request) => { request.headers.set("Authorization", `Bearer ${bearer}`); return next(request); }],
  });
  const greeter = new GreeterServiceClient(transport);
  const gateway = new GatewayServiceClient(transport);

  // Unary.
  const greeting = await greeter.greet({ name: "TypeScript" });
  assert.match(greeting.message, /TypeScript/);
  assert.equal(typeof greeting.externalStatus, "number");
  assert.deepEqual(GreetResponse.fromJson(GreetResponse.toJson(greeting)), greeting);

  // Without the interceptor's token the edge refuses, as a typed error.
  const anonymous = new GreeterServiceClient(new ConnectTransport({ baseUrl: edge }));
  await assert.rejects(anonymous.greet({ name: "x" }), (error: unknown) => error instanceof ConnectError && error.code === "unauthenticated");

  // A server stream: an invocation made while watching arrives on it.
  const controller = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    try {
      for await (const invocation of gateway.watchInvocations({}, { signal: controller.signal })) {
        seen.push(`${invocation.name}:${invocation.code || "ok"}`);
        if (seen.some((entry) => entry.startsWith("notfound:"))) break;
      }
    } catch (error) {
      if (!(error instanceof ConnectError && error.code === "canceled")) throw error;
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 300));

  // Errors map to Connect codes, with the server's message.
  await assert.rejects(gateway.invokeCustom({ name: "notfound" }), (error: unknown) => {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, "not_found");
    return true;
  });
  const timer = setTimeout(() => controller.abort(), 10_000);
  await watching;
  clearTimeout(timer);
  assert.ok(seen.some((entry) => entry.startsWith("notfound:")), `the stream did not carry the invocation: ${seen.join(", ")}`);

  const overview = await gateway.getOverview();
  assert.ok(Array.isArray(overview.services));
});
