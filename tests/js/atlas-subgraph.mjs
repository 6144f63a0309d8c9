// Serve the example atlas subgraph (see atlas.mjs) with @apollo/server standalone.
//   node atlas-subgraph.mjs PORT [IMAGE_IDS.json]   -> prints "READY http://127.0.0.1:PORT/"
//   node atlas-subgraph.mjs --print-sdl             -> prints the subgraph SDL and exits
// PORT 0 picks a free port. IMAGE_IDS.json is a JSON array of hub image ids (default: []);
// the ATLAS_IMAGE_IDS environment variable (a JSON array) is read when no file is given.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { makeResolvers, typeDefs, typeDefsDocument } from "./atlas.mjs";

const [arg, idsFile] = process.argv.slice(2);
if (arg === "--print-sdl") {
  process.stdout.write(typeDefs);
  process.exit(0);
}
const port = Number.parseInt(arg ?? "0", 10);
if (!Number.isInteger(port) || port < 0) {
  console.error("usage: node atlas-subgraph.mjs PORT [IMAGE_IDS.json] | --print-sdl");
  process.exit(2);
}
const imageIds = JSON.parse(idsFile ? readFileSync(idsFile, "utf8") : process.env.ATLAS_IMAGE_IDS ?? "[]");

const server = new ApolloServer({
  schema: buildSubgraphSchema([{ typeDefs: typeDefsDocument(), resolvers: makeResolvers(imageIds) }]),
  plugins: [ApolloServerPluginInlineTraceDisabled()], // no Apollo Studio traces to the gateway
});
const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port } });
console.log(`READY ${url}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.stop().finally(() => process.exit(0)));
}
