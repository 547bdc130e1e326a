// codegen.ts — types the console's GraphQL documents from the server's schema.graphql: a document that names a
// field the schema no longer has, or a type that changed under the console, fails `npm run build`.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  // Every document lives in a src/lib module, next to the code that runs it.
  documents: ["src/lib/**/*.ts"],
  ignoreNoDocuments: false,
  errorsOnly: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: {
          DateTime: "string",
          JSON: "unknown",
          BigInt: "string",
          Url: "string",
        },
        skipTypename: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
      },
    },
  },
};

export default config;
