// billing-api: made by `devctl new service billing-api --template node-express`.
// Configuration from the environment: PORT (default 8100), DATABASE_URL.
"use strict";

const express = require("express");

const app = express();
app.use(express.json({ limit: "1mb" }));

const items = [];

app.get("/healthz", (_req, res) => res.json({ status: "ok" }));
app.get("/readyz", (_req, res) => res.json({ status: "ready" }));

app.get("/billing-api/items", (_req, res) => res.json({ items }));
app.post("/billing-api/items", (req, res) => {
  const name = req.body && req.body.name;
  if (typeof name !== "string" || name.length === 0 || name.length > 200) {
    return res.status(400).json({ error: "name must be 1 to 200 characters" });
  }
  items.push(name);
  return res.status(201).json({ name });
});

const port = Number(process.env.PORT || 8100);
const server = app.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ level: "info", msg: "starting", service: "billing-api", port }));
});

// Graceful shutdown: stop accepting, finish in-flight requests.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
