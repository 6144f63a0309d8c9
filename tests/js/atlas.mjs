// The example added-value subgraph ("atlas"): its SDL and resolvers, shared by
// atlas-subgraph.mjs (serves it) and the tests (compose it). See docs/federation.md.
//
// It owns no images or genes: it EXTENDS the hub's Image and Gene entities (joined on their
// @key "id") with values computed deterministically from the id, so tests can check them:
//   h = sha256(id) as hex
//   atlasRegion(id)     = REGIONS[parseInt(h.slice(0, 8), 16) % REGIONS.length]
//   expressionLevel(id) = (parseInt(h.slice(8, 16), 16) % 10000) / 100
import { createHash } from "node:crypto";
import { parse } from "graphql";

export const REGIONS = ["cortex", "hippocampus", "cerebellum", "thalamus", "striatum", "brainstem"];

export const typeDefs = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

  "An image of the hub (subgraph 'hub'), with what this atlas adds to it."
  type Image @key(fields: "id") {
    id: ID!
    "The atlas region this image was registered to."
    atlasRegion: String
  }

  "A gene of the hub, with its expression level in this atlas."
  type Gene @key(fields: "id") {
    id: ID!
    expressionLevel: Float
  }

  type Query {
    "The atlas regions."
    atlasRegions: [String!]!
    "Images registered to a region: references the gateway resolves through the hub's _entities."
    imagesInRegion(region: String!): [Image!]!
  }
`;

const digest = (id) => createHash("sha256").update(String(id), "utf8").digest("hex");
export const atlasRegion = (id) => REGIONS[parseInt(digest(id).slice(0, 8), 16) % REGIONS.length];
export const expressionLevel = (id) => (parseInt(digest(id).slice(8, 16), 16) % 10000) / 100;

// imageIds: the hub image ids this atlas knows (a real atlas would store its registrations).
export function makeResolvers(imageIds) {
  return {
    Query: {
      atlasRegions: () => REGIONS,
      imagesInRegion: (_parent, { region }) =>
        imageIds.filter((id) => atlasRegion(id) === region).map((id) => ({ __typename: "Image", id })),
    },
    Image: {
      // The gateway sends {__typename: "Image", id} for every image the hub returned.
      __resolveReference: (ref) => ({ id: ref.id }),
      atlasRegion: (image) => atlasRegion(image.id),
    },
    Gene: {
      __resolveReference: (ref) => ({ id: ref.id }),
      expressionLevel: (gene) => expressionLevel(gene.id),
    },
  };
}

export const typeDefsDocument = () => parse(typeDefs);
