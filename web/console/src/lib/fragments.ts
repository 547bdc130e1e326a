// fragments.ts — what every mutation selects of its payload's userErrors (problems.ts turns them into words
// beside their field).
import { graphql } from "../gql";

export const UserErrorFields = graphql(`
  fragment UserErrorFields on UserError {
    field
    message
    code
  }
`);
