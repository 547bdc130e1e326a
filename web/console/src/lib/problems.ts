// problems.ts — what went wrong, in words, with the field it names: from REST error bodies, GraphQL errors and
// mutation payloads' userErrors.
import type { CombinedError } from "@urql/core";

/** One thing that went wrong: a message for a person, the input field at fault (`email`, `url`) if any. */
export interface Problem {
  message: string;
  field?: string;
  code?: string;
}

/** Raised by the API helpers: the problems of one failed request. */
export class ApiFailure extends Error {
  constructor(
    readonly problems: Problem[],
    readonly status?: number,
  ) {
    super(problems.map((p) => p.message).join("; ") || "The request failed.");
  }

  get code(): string | undefined {
    return this.problems[0]?.code;
  }
}

const NETWORK = "The server cannot be reached. Check your connection; nothing was changed.";

/** The problems of a GraphQL request that failed as a whole (network, authorization, validation). */
export function fromCombined(error: CombinedError): Problem[] {
  if (error.networkError && error.graphQLErrors.length === 0) {
    return [{ message: NETWORK, code: "NETWORK" }];
  }
  return error.graphQLErrors.map((e) => {
    const extensions = (e.extensions ?? {}) as { code?: unknown; field?: unknown };
    const problem: Problem = { message: e.message };
    if (typeof extensions.code === "string") problem.code = extensions.code;
    if (typeof extensions.field === "string") problem.field = extensions.field;
    return problem;
  });
}

/** A mutation payload's userErrors: the field path without the argument's name (`["input", "url"]` → `url`). */
export function fromUserErrors(
  errors: readonly { field: readonly string[] | null; message: string; code: string }[],
): Problem[] {
  return errors.map((e) => {
    const path = (e.field ?? []).filter((part, i) => !(i === 0 && part === "input"));
    const problem: Problem = { message: e.message, code: e.code };
    if (path.length > 0) problem.field = path.join(".");
    return problem;
  });
}

/** The problems of a failed REST call: its `{ "error": { code, message } }` body, or what the status says. */
export async function fromResponse(response: Response): Promise<Problem[]> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) {
      const problem: Problem = { message: body.error.message };
      if (body.error.code) problem.code = body.error.code;
      const field = fieldNamed(body.error.message);
      if (field) problem.field = field;
      return [problem];
    }
  } catch {
    // Not JSON: described by the status below.
  }
  return [{ message: `The server answered ${response.status} ${response.statusText}.`.trim() }];
}

/** REST validation messages start with the field they name (`password: must be at least 12 characters`). */
function fieldNamed(message: string): string | undefined {
  const match = /^([a-z_][a-z0-9_.]*): /.exec(message);
  return match?.[1];
}

/** The message of a failure of any kind. */
export function describe(error: unknown): Problem[] {
  if (error instanceof ApiFailure) return error.problems;
  if (error instanceof TypeError) return [{ message: NETWORK, code: "NETWORK" }];
  return [{ message: error instanceof Error ? error.message : String(error) }];
}

/** The message for one field, if a problem names it. */
export function forField(problems: readonly Problem[], field: string): string | undefined {
  return problems.find((p) => p.field === field)?.message;
}

/** The problems that name no field shown by the form (they go in its summary). */
export function general(problems: readonly Problem[], shown: readonly string[]): Problem[] {
  return problems.filter((p) => !p.field || !shown.includes(p.field));
}
