// An Apollo gateway over running subgraphs: composes their SDL at start-up (IntrospectAndCompose
// reads each subgraph's `_service { sdl }`) and serves the supergraph with @apollo/server.
//   node gateway.mjs PORT NAME=URL [NAME=URL ...]   -> prints "READY http://127.0.0.1:PORT/"
// e.g. node gateway.mjs 4000 hub=http://127.0.0.1:8000/graphql atlas=http://127.0.0.1:4001/
// PORT 0 picks a free port.
import { ApolloGateway, IntrospectAndCompose } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const [portArg, ...subgraphArgs] = process.argv.slice(2);
const port = Number.parseInt(portArg ?? "", 10);
const subgraphs = subgraphArgs.map((arg) => {
  const eq = arg.indexOf("=");
  return { name: arg.slice(0, eq), url: arg.slice(eq + 1) };
});
if (!Number.isInteger(port) || port < 0 || subgraphs.length === 0 || subgraphs.some((s) => !s.name || !s.url)) {
  console.error("usage: node gateway.mjs PORT NAME=URL [NAME=URL ...]");
  process.exit(2);
}

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({ subgraphs }),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port } });
console.log(`READY ${url}`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.stop().finally(() => process.exit(0)));
}
