// The connect-ts generator's proto3 JSON, in Node (node --test), on the golden protos' output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Everything, Everything_Nested, Shade } from "./gen/kinds/v1/kinds_pb";
import { Book } from "./gen/library/v1/library_pb";
import { ConnectError, ConnectTransport, type JsonObject } from "./gen/connect_runtime";
import { KindsServiceClient } from "./gen/kinds/v1/kinds_connect";

const full: JsonObject = {
  aDouble: 1.5,
  aFloat: "NaN",
  anInt32: -7,
  anInt64: "9007199254740993",
  aUint32: 4294967295,
  aUint64: "18446744073709551615",
  aSint64: "-42",
  aFixed64: "12",
  aBool: true,
  aString: "héllo \"quoted\"",
  someBytes: "AAECAwT/",
  shade: "SHADE_DARK",
  shades: ["SHADE_LIGHT", "SHADE_DARK"],
  names: ["a", "b"],
  counts: ["1", "-2"],
  totals: { x: "3" },
  byId: { "5": { label: "five", inner: { on: true } } },
  nested: { label: "n" },
  nesteds: [{ label: "one" }, {}],
  nickname: "",
  text: "picked",
  book: { id: "b1", title: "Title", link: { url: "https://example.com" } },
  customName: "json name",
};

test("every kind of field survives a round trip", () => {
  const message = Everything.fromJson(full);
  assert.equal(message.anInt64, "9007199254740993", "int64 is a string: no precision lost");
  assert.ok(Number.isNaN(message.aFloat));
  assert.deepEqual(Array.from(message.someBytes), [0, 1, 2, 3, 4, 255]);
  assert.equal(message.shade, "SHADE_DARK");
  assert.equal(message.byId["5"]?.inner?.on, true);
  assert.equal(message.book?.link?.url, "https://example.com");
  assert.equal(message.nickname, "", "an optional field set to its default is kept");
  assert.equal(message.text, "picked");
  assert.equal(message.number, undefined);
  assert.equal(message.jsonNamed, "json name");
  const again = Everything.toJson(message);
  // The second nested message is all defaults: written as {}.
  assert.deepEqual(again, { ...full, nesteds: [{ label: "one" }, {}] });
  assert.deepEqual(Everything.toJson(Everything.fromJson(again)), again);
});

test("defaults are omitted, and a default message is {}", () => {
  assert.deepEqual(Everything.toJson(Everything.create()), {});
  assert.deepEqual(Everything.toJson(Everything.create({ anInt32: 0, aString: "", shade: "SHADE_UNSPECIFIED", names: [] })), {});
  assert.deepEqual(Everything.toJson(Everything.create({ anInt32: 3 })), { anInt32: 3 });
  assert.deepEqual(Everything.fromJson(null), Everything.create());
});

test("parsers accept what proto3 JSON allows", () => {
  const message = Everything.fromJson({
    an_int64: 5, // the proto name, and a number
    anInt32: "12", // a decimal string
    shade: 1, // an enum by number
    json_named: "proto name",
    aDouble: "Infinity",
    someBytes: "AAEC_-8", // URL-safe base64 without padding
    unknownField: { anything: [1, 2] }, // ignored
  });
  assert.equal(message.anInt64, "5");
  assert.equal(message.anInt32, 12);
  assert.equal(message.shade, "SHADE_LIGHT");
  assert.equal(message.jsonNamed, "proto name");
  assert.equal(message.aDouble, Infinity);
  assert.deepEqual(Array.from(message.someBytes), [0, 1, 2, 255, 239]);
  assert.deepEqual(Everything.toJson(message).aDouble, "Infinity");
});

test("wrong types are invalid_argument errors naming the field", () => {
  for (const [json, field] of [
    [{ anInt32: 1.5 }, "an_int32"],
    [{ anInt32: 2147483648 }, "an_int32"],
    [{ aUint32: -1 }, "a_uint32"],
    [{ anInt64: "12x" }, "an_int64"],
    [{ aBool: "true" }, "a_bool"],
    [{ shade: "SHADE_PURPLE" }, "shade"],
    [{ names: "a" }, "names"],
    [{ nested: 3 }, ""],
  ] as const) {
    assert.throws(() => Everything.fromJson(json as unknown as JsonObject), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, "invalid_argument");
      assert.match(error.message, new RegExp(field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      return true;
    });
  }
});

test("enums carry their names and numbers", () => {
  assert.deepEqual([...Shade.names], ["SHADE_UNSPECIFIED", "SHADE_LIGHT", "SHADE_DARK"]);
  assert.deepEqual([...Shade.numbers], [0, 1, 2]);
  assert.equal(Everything_Nested.typeName, "kinds.v1.Everything.Nested");
  assert.deepEqual(Book.toJson(Book.create({ title: "t" })), { title: "t" });
});

test("the client speaks Connect over fetch: JSON, headers, errors, timeouts, streams", async () => {
  const seen: { url: string; headers: Headers; body: string }[] = [];
  const encoder = new TextEncoder();
  const envelope = (flags: number, json: unknown) => {
    const payload = encoder.encode(JSON.stringify(json));
    const bytes = new Uint8Array(5 + payload.length);
    bytes[0] = flags;
    new DataView(bytes.buffer).setUint32(1, payload.length);
    bytes.set(payload, 5);
    return bytes;
  };
  const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    const body = typeof init?.body === "string" ? init.body : new TextDecoder().decode((init?.body as Uint8Array).subarray(5));
    seen.push({ url: String(input), headers, body });
    if (String(input).endsWith("/Echo")) {
      const request = JSON.parse(body) as JsonObject;
      if (request.aString === "fail") {
        return new Response(JSON.stringify({ code: "not_found", message: "no such thing", details: [{ type: "x.Y", value: "AA" }] }), { status: 404 });
      }
      if (request.aString === "slow") {
        return new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" }))));
      }
      return new Response(JSON.stringify({ ...request, unknown: 1 }), { status: 200, headers: { "content-type": "application/json" } });
    }
    const chunks = [envelope(0, { anInt32: 1 }), envelope(0, { anInt32: 2 }), envelope(2, { error: { code: "resource_exhausted", message: "enough" } })];
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let offset = 0;
    for (const chunk of chunks) { all.set(chunk, offset); offset += chunk.length; }
    // Split mid-envelope, as a network would.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(all.subarray(0, 7));
        controller.enqueue(all.subarray(7));
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { "content-type": "application/connect+json" } });
  };
  const transport = new ConnectTransport({
    baseUrl: "http://example.test/",
    fetch: fakeFetch as typeof fetch,
    interceptors: [(next) => async (request) => { request.headers.set("Authorization", "Bearer t"); return next(request); }],
  });
  const client = new KindsServiceClient(transport);

  const echoed = await client.echo({ aString: "hi", anInt64: "7" }, { timeoutMs: 5000 });
  assert.equal(echoed.aString, "hi");
  assert.equal(echoed.anInt64, "7");
  assert.equal(seen[0].url, "http://example.test/kinds.v1.KindsService/Echo");
  assert.equal(seen[0].headers.get("content-type"), "application/json");
  assert.equal(seen[0].headers.get("connect-protocol-version"), "1");
  assert.equal(seen[0].headers.get("connect-timeout-ms"), "5000");
  assert.equal(seen[0].headers.get("authorization"), "Bearer t");
  assert.deepEqual(JSON.parse(seen[0].body), { anInt64: "7", aString: "hi" });

  await assert.rejects(client.echo({ aString: "fail" }), (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, "not_found");
    assert.equal(error.rawMessage, "no such thing");
    assert.deepEqual(error.details, [{ type: "x.Y", value: "AA", debug: undefined }]);
    return true;
  });
  await assert.rejects(client.echo({ aString: "slow" }, { timeoutMs: 50 }), (error: unknown) => error instanceof ConnectError && error.code === "deadline_exceeded");
  const aborted = new AbortController();
  const pending = client.echo({ aString: "slow" }, { signal: aborted.signal });
  aborted.abort();
  await assert.rejects(pending, (error: unknown) => error instanceof ConnectError && error.code === "canceled");

  const received: number[] = [];
  await assert.rejects(async () => {
    for await (const message of client.stream({ aString: "go" })) received.push(message.anInt32);
  }, (error: unknown) => error instanceof ConnectError && error.code === "resource_exhausted" && error.rawMessage === "enough");
  assert.deepEqual(received, [1, 2]);
  const streamed = seen.find((call) => call.url.endsWith("/Stream"));
  assert.equal(streamed?.headers.get("content-type"), "application/connect+json");
  assert.deepEqual(JSON.parse(streamed?.body ?? "null"), { aString: "go" });
});
