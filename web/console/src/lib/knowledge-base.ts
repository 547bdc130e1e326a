// knowledge-base.ts — the knowledge base page's GraphQL documents: the entries (searched, filtered, a page at a
// time), their changes, the categories in use, and "try a question" (the assistant's own ranking).
import { graphql } from "../gql";

export const KbEntryRow = graphql(`
  fragment KbEntryRow on KnowledgeBaseEntry {
    id
    title
    body
    category
    tags
    active
    createdAt
    updatedAt
  }
`);

export const KbEntriesDocument = graphql(`
  query KbEntries($search: String, $category: String, $active: Boolean, $after: String) {
    knowledgeBaseEntries(first: 20, search: $search, category: $category, active: $active, after: $after) {
      nodes {
        ...KbEntryRow
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      totalCount
    }
  }
`);

export const KbEntryDocument = graphql(`
  query KbEntry($id: ID!) {
    knowledgeBaseEntry(id: $id) {
      ...KbEntryRow
    }
  }
`);

/** The categories in use, with their counts (for those who may read analytics). */
export const KbCategoriesDocument = graphql(`
  query KbCategories {
    analytics {
      knowledgeBase {
        byCategory {
          label
          count
        }
      }
    }
  }
`);

/** The assistants' confidence thresholds, to say whether a tried question would be answered. */
export const KbThresholdsDocument = graphql(`
  query KbThresholds {
    assistants {
      id
      name
      engine {
        confidenceThreshold
      }
    }
  }
`);

export const KbTryDocument = graphql(`
  query KbTry($query: String!) {
    knowledgeBaseSearch(query: $query, first: 5) {
      confidence
      retrievers
      matches {
        score
        retrievers
        semanticScore
        entry {
          id
          title
          category
          active
        }
      }
    }
  }
`);

export const KbCreateDocument = graphql(`
  mutation KbCreate($input: CreateKnowledgeBaseEntryInput!) {
    createKnowledgeBaseEntry(input: $input) {
      knowledgeBaseEntry {
        ...KbEntryRow
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const KbUpdateDocument = graphql(`
  mutation KbUpdate($id: ID!, $input: UpdateKnowledgeBaseEntryInput!) {
    updateKnowledgeBaseEntry(id: $id, input: $input) {
      knowledgeBaseEntry {
        ...KbEntryRow
      }
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

export const KbDeleteDocument = graphql(`
  mutation KbDelete($id: ID!) {
    deleteKnowledgeBaseEntry(id: $id) {
      deletedKnowledgeBaseEntryId
      userErrors {
        ...UserErrorFields
      }
    }
  }
`);

/** Comma-separated tags as typed, to the list the API takes: trimmed, blanks and repeats dropped. */
export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(",")) {
    const tag = part.trim();
    if (tag && !out.includes(tag)) out.push(tag);
  }
  return out;
}

/** The fields of the entry form, as typed. */
export interface EntryDraft {
  title: string;
  body: string;
  category: string;
  tags: string;
  active: boolean;
}

export function emptyDraft(): EntryDraft {
  return { title: "", body: "", category: "", tags: "", active: true };
}

/** The first lines of an entry's body, for the list. */
export function excerpt(body: string, max = 180): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1).trimEnd()}…` : flat;
}
