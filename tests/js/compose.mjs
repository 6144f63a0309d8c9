// Compose subgraph SDL files into a supergraph with @theguild/federation-composition.
//   node compose.mjs [NAME=]FILE.graphql ...   -> prints JSON {errors, supergraphSdl}
// A subgraph is named NAME, or after its file (hub.graphql -> "hub"). Exit code 0 when it
// composes, 1 when composition reports errors, 2 on bad usage.
import { readFileSync } from "node:fs";
import { basename, extname } from "node:path";
import { parse } from "graphql";
import { composeServices, compositionHasErrors } from "@theguild/federation-composition";

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error("usage: node compose.mjs [NAME=]FILE.graphql ...");
  process.exit(2);
}
const services = args.map((arg) => {
  const eq = arg.indexOf("=");
  const file = eq > 0 ? arg.slice(eq + 1) : arg;
  const name = eq > 0 ? arg.slice(0, eq) : basename(file, extname(file));
  return { name, typeDefs: parse(readFileSync(file, "utf8")) };
});
const result = composeServices(services);
const failed = compositionHasErrors(result);
const out = failed
  ? { errors: result.errors.map((e) => ({ message: e.message, code: e.extensions?.code ?? null })), supergraphSdl: null }
  : { errors: [], supergraphSdl: result.supergraphSdl };
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
process.exit(failed ? 1 : 0);
