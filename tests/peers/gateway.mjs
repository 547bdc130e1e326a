// Composes Concierge with a partner CRM subgraph (which extends `Visitor` by its key) through an Apollo
// gateway using IntrospectAndCompose, all on loopback, then runs one query that crosses both subgraphs.
// Usage: node gateway.mjs <concierge graphql url> <api key> <query>
// Prints the gateway's JSON response on one line.
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import gql from 'graphql-tag';

const [conciergeUrl, key, query] = process.argv.slice(2);
if (!conciergeUrl || !key || !query) {
  console.error('usage: node gateway.mjs <url> <api key> <query>');
  process.exit(2);
}

// The partner's subgraph: a CRM that knows a contact for every Concierge visitor.
const crmTypeDefs = gql`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type Visitor @key(fields: "id") {
    id: ID!
    crmContact: CrmContact!
  }

  type CrmContact {
    crmId: String!
    lifecycleStage: String!
  }

  type Query {
    crmStatus: String!
  }
`;
const crmResolvers = {
  Query: { crmStatus: () => 'ok' },
  Visitor: {
    __resolveReference: (ref) => ({ id: ref.id }),
    crmContact: (visitor) => ({ crmId: `crm-${visitor.id}`, lifecycleStage: 'lead' }),
  },
};
const crm = new ApolloServer({
  schema: buildSubgraphSchema([{ typeDefs: crmTypeDefs, resolvers: crmResolvers }]),
  plugins: [ApolloServerPluginInlineTraceDisabled()],
});
const { url: crmUrl } = await startStandaloneServer(crm, { listen: { host: '127.0.0.1', port: 0 } });

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: 'concierge', url: conciergeUrl },
      { name: 'crm', url: crmUrl },
    ],
  }),
  buildService: ({ url }) =>
    new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request }) {
        if (url === conciergeUrl) request.http.headers.set('authorization', `Bearer ${key}`);
      },
    }),
});
const server = new ApolloServer({ gateway });
const { url: gatewayUrl } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });

let exitCode = 0;
try {
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  console.log(JSON.stringify(await response.json()));
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await server.stop();
  await crm.stop();
}
process.exit(exitCode);
