// The archive-scale benchmark's peer (issue 7): the Neo4j GraphQL Library serving OUR graph.
//
// What a user would otherwise pick: @neo4j/graphql generates the schema and the Cypher from type
// definitions, @apollo/server serves it. The type definitions below describe the hub's graph as it
// is stored (docs/graph-model.md): the same labels, relationship types and properties, so the
// library runs against the very database the hub reads. Only @node / @relationship /
// @relationshipProperties / @key: no @cypher fields (those would be hand-written Cypher, not the
// library). Started by bench/peer.py:
//
//   NEO4J_URI=bolt://127.0.0.1:7701 PORT=4100 node bench/js/neo4j-graphql-peer.mjs
//
// Fair settings: one driver (pool of 50 like the hub's), notifications off, no debug logging,
// NODE_ENV=production, no landing page, stdout quiet (one "ready" line on stderr).

import { appendFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { Neo4jGraphQL } from "@neo4j/graphql";
import neo4j from "neo4j-driver";

export const typeDefs = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"])

  type Study @node @key(fields: "accession") {
    accession: String!
    name: String
    title: String
    description: String
    type: String
    license: String
    releaseDate: Date
    source: String
    datasets: [Dataset!]! @relationship(type: "HAS_DATASET", direction: OUT)
    publications: [Publication!]! @relationship(type: "PUBLISHED_IN", direction: OUT)
    organisms: [Organism!]! @relationship(type: "OF_ORGANISM", direction: OUT)
    phenotypeDefinitions: [Phenotype!]! @relationship(type: "HAS_PHENOTYPE_DEFINITION", direction: OUT)
    crossReferences: [CrossReference!]! @relationship(type: "LINKS_TO", direction: OUT)
  }

  type Dataset @node {
    id: String!
    name: String
    kind: String
    description: String
    technologyType: String
    sampleType: String
    study: String
    owner: [Study!]! @relationship(type: "HAS_DATASET", direction: IN)
    plates: [Plate!]! @relationship(type: "HAS_PLATE", direction: OUT)
    images: [Image!]! @relationship(type: "HAS_IMAGE", direction: OUT)
    imagingMethod: [OntologyTerm!]! @relationship(type: "IMAGED_BY", direction: OUT)
  }

  type Plate @node {
    id: String!
    name: String
    study: String
    dataset: [Dataset!]! @relationship(type: "HAS_PLATE", direction: IN)
    wells: [Well!]! @relationship(type: "HAS_WELL", direction: OUT)
  }

  type Well @node {
    id: String!
    name: String
    row: Int
    column: Int
    study: String
    plate: [Plate!]! @relationship(type: "HAS_WELL", direction: IN)
    images: [Image!]! @relationship(type: "HAS_IMAGE", direction: OUT)
  }

  type Image @node @key(fields: "id") {
    id: String!
    name: String
    datasetName: String
    study: String
    annotated: Boolean
    controlType: String
    comments: String
    dataset: [Dataset!]! @relationship(type: "HAS_IMAGE", direction: IN)
    well: [Well!]! @relationship(type: "HAS_IMAGE", direction: IN)
    organism: [Organism!]! @relationship(type: "OF_ORGANISM", direction: OUT)
    genes: [Gene!]! @relationship(type: "HAS_GENE", direction: OUT)
    reagents: [Reagent!]! @relationship(type: "HAS_REAGENT", direction: OUT)
    phenotypes: [Phenotype!]! @relationship(type: "HAS_PHENOTYPE", direction: OUT)
  }

  type Organism @node {
    id: String!
    name: String
  }

  type Gene @node {
    id: String!
    symbol: String
    symbolLower: String
    synonyms: [String!]
    organism: [Organism!]! @relationship(type: "OF_ORGANISM", direction: OUT)
    images: [Image!]! @relationship(type: "HAS_GENE", direction: IN)
  }

  type Reagent @node {
    id: String!
    kind: String
    name: String
    properties: String
  }

  type Phenotype @node {
    id: String!
    name: String
    study: String
    term: [OntologyTerm!]! @relationship(type: "MAPPED_TO", direction: OUT)
    images: [Image!]! @relationship(type: "HAS_PHENOTYPE", direction: IN)
    definedIn: [Study!]! @relationship(type: "HAS_PHENOTYPE_DEFINITION", direction: IN)
  }

  type Closure @relationshipProperties {
    distance: Int!
  }

  type OntologyTerm @node {
    id: String!
    iri: String
    shortForm: String
    ontology: String
    label: String
    labelLower: String
    definition: String
    obsolete: Boolean
    stub: Boolean
    parents: [OntologyTerm!]! @relationship(type: "IS_A", direction: OUT)
    children: [OntologyTerm!]! @relationship(type: "IS_A", direction: IN)
    ancestors: [OntologyTerm!]! @relationship(type: "IS_A_CLOSURE", direction: OUT, properties: "Closure")
    descendants: [OntologyTerm!]! @relationship(type: "IS_A_CLOSURE", direction: IN, properties: "Closure")
    phenotypes: [Phenotype!]! @relationship(type: "MAPPED_TO", direction: IN)
  }

  type Publication @node {
    id: String!
    doi: String
    pmid: String
    pmcid: String
    title: String
  }

  type CrossReference @node {
    id: String!
    resource: String
    accession: String
    url: String
    title: String
    studies: [Study!]! @relationship(type: "LINKS_TO", direction: IN)
  }
`;

// PEER_CAPTURE=<file>: append every statement the library runs (one JSON line: query, params) to
// <file>, so bench/peer.py can count statements per request and PROFILE them. Off for measurements.
function capturing(driver, file) {
  const toPlain = (_k, v) => (neo4j.isInt(v) ? v.toNumber() : v);
  const wrapTx = (tx) =>
    new Proxy(tx, {
      get(target, prop) {
        if (prop !== "run") return Reflect.get(target, prop);
        return (query, params) => {
          appendFileSync(file, JSON.stringify({ query, params }, toPlain) + "\n");
          return target.run(query, params);
        };
      },
    });
  const wrapSession = (session) =>
    new Proxy(session, {
      get(target, prop) {
        if (prop === "executeRead" || prop === "executeWrite") {
          return (work, config) => target[prop]((tx) => work(wrapTx(tx)), config);
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(driver, {
    get(target, prop) {
      if (prop === "session") return (config) => wrapSession(target.session(config));
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export async function makeSchema(driver) {
  const lib = new Neo4jGraphQL({ typeDefs, driver, debug: false });
  // A federation subgraph schema: the same generated queries plus `_entities` (the library's
  // reference resolver), so `_entities` batches can be asked of the peer too.
  return process.env.PEER_PRINT_SCHEMA_ONLY === "plain" ? lib.getSchema() : lib.getSubgraphSchema();
}

async function main() {
  const uri = process.argv[2] || process.env.NEO4J_URI || "bolt://127.0.0.1:7687";
  const port = Number(process.argv[3] || process.env.PORT || 4100);
  const database = process.env.NEO4J_DATABASE || "neo4j";
  const auth = process.env.NEO4J_USER ? neo4j.auth.basic(process.env.NEO4J_USER, process.env.NEO4J_PASSWORD || "") : undefined;
  const driver = neo4j.driver(uri, auth, {
    maxConnectionPoolSize: 50,
    notificationFilter: { minimumSeverityLevel: "OFF" },
    logging: { level: "error", logger: (_level, message) => process.stderr.write(`neo4j-driver: ${message}\n`) },
  });
  await driver.verifyConnectivity({ database });
  const schema = await makeSchema(process.env.PEER_CAPTURE ? capturing(driver, process.env.PEER_CAPTURE) : driver);
  if (process.env.PEER_PRINT_SCHEMA_ONLY) {
    const { printSchema } = await import("graphql");
    process.stdout.write(printSchema(schema));
    await driver.close();
    return;
  }
  const server = new ApolloServer({
    schema,
    plugins: [ApolloServerPluginLandingPageDisabled()],
    includeStacktraceInErrorResponses: false,
  });
  const { url } = await startStandaloneServer(server, {
    listen: { host: "127.0.0.1", port },
    context: async () => ({ sessionConfig: { database } }),
  });
  process.stderr.write(`neo4j-graphql peer ready at ${url}\n`);
  const shutdown = async () => {
    await server.stop();
    await driver.close();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

main().catch((err) => {
  process.stderr.write(`neo4j-graphql peer failed: ${err?.stack || err}\n`);
  process.exit(1);
});
