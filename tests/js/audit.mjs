// The GraphQL-over-HTTP conformance audit of graphql-http against a running server.
//   node audit.mjs URL   -> prints JSON {url, versions, summary, results}
// Each result: {id, name, status: "ok" | "warn" | "error", reason?}. In graphql-http, a MUST
// requirement that fails is an "error", a SHOULD / MAY one is a "warn". Exit code: 0 when no
// MUST requirement fails, 1 otherwise, 2 on bad usage.
import { readFileSync } from "node:fs";
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs URL");
  process.exit(2);
}
const version = (pkg) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8")).version;

const results = await auditServer({ url });
const out = {
  url,
  versions: { node: process.versions.node, "graphql-http": version("graphql-http"), "graphql (npm)": version("graphql") },
  summary: { ok: 0, warn: 0, error: 0 },
  results: [],
};
for (const result of results) {
  out.summary[result.status] += 1;
  const item = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    item.reason = result.reason;
    // The response the server gave, as graphql-http recorded it (status, headers, body).
    if (result.response) {
      const body = await result.response.text().catch(() => null);
      item.response = {
        status: result.response.status,
        contentType: result.response.headers.get("content-type"),
        body: body && body.length > 600 ? body.slice(0, 600) + "…" : body,
      };
    }
  }
  out.results.push(item);
}
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
process.exit(out.summary.error > 0 ? 1 : 0);
