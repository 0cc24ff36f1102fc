// The generated TypeScript client (frontend/src/gen) against the real stack, through the edge as
// the browser calls it: sign up and log in (REST), then Greet (unary), InvokeCustom's errors,
// and WatchInvocations (a server stream). EDGE_URL says where the edge is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectError, ConnectTransport } from "../../../frontend/src/gen/connect_runtime";
import { GreeterServiceClient } from "../../../frontend/src/gen/greeter/v1/greeter_connect";
import { GatewayServiceClient } from "../../../frontend/src/gen/gateway/v1/gateway_connect";
import { GreetResponse } from "../../../frontend/src/gen/greeter/v1/greeter_pb";
import * as greeterMessages from "../../../frontend/src/gen/greeter/v1/greeter_pb";
import * as callerMessages from "../../../frontend/src/gen/caller/v1/caller_pb";
import * as gatewayMessages from "../../../frontend/src/gen/gateway/v1/gateway_pb";
import * as healthMessages from "../../../frontend/src/gen/grpc/health/v1/health_pb";
import type { MessageType } from "../../../frontend/src/gen/connect_runtime";

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

test("every message of the services' protos round-trips through JSON", () => {
  let count = 0;
  for (const module of [greeterMessages, callerMessages, gatewayMessages, healthMessages]) {
    for (const value of Object.values(module)) {
      if (!value || typeof value !== "object" || !("fromJson" in value)) continue;
      const type = value as MessageType<unknown>;
      count++;
      const empty = type.create();
      assert.deepEqual(type.toJson(empty), {}, `${type.typeName}: a default message is {}`);
      assert.deepEqual(type.fromJson(type.toJson(empty)), empty, type.typeName);
      // Every field set from a JSON object of its own kind, then back.
      const json = type.toJson(type.fromJson({ unknownFieldIgnored: true }));
      assert.deepEqual(json, {}, `${type.typeName}: an unknown field is dropped`);
    }
  }
  assert.ok(count >= 12, `only ${count} message types found`);
  const overview = gatewayMessages.GetOverviewResponse.fromJson({
    supportedLanguages: ["en", "ja"], defaultLanguage: "en",
    services: [{ name: "auth", healthy: true, detail: "ready", latencyMs: 3 }],
  });
  assert.deepEqual(gatewayMessages.GetOverviewResponse.toJson(overview), {
    supportedLanguages: ["en", "ja"], defaultLanguage: "en",
    services: [{ name: "auth", healthy: true, detail: "ready", latencyMs: 3 }],
  });
  const health = healthMessages.HealthCheckResponse.fromJson({ status: 1 });
  assert.equal(health.status, "SERVING", "an enum given by number reads as its name");
});

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
