// graphql.ts — the console's GraphQL client: queries and mutations over HTTP with the session cookie and the
// anti-CSRF header, subscriptions over graphql-transport-ws (the cookie authenticates the socket).

import type { AnyVariables, CombinedError } from "@urql/core";
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { ApiFailure, fromCombined } from "./problems";

/** A generated document (`graphql(...)` of src/gql): its text, typed with its result and variables. */
export interface Document<R, V> {
  toString(): string;
  __apiType?: (variables: V) => R;
}

let csrfToken: string | null = null;
let socket: WsClient | null = null;
let onSignedOut: () => void = () => {};

function websocketUrl(): string {
  const url = new URL("/graphql/ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

function ws(): WsClient {
  socket ??= createWsClient({
    url: websocketUrl(),
    lazy: true,
    lazyCloseTimeout: 3000,
    // The network comes and goes; the server restarts: keep trying, further apart each time.
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
  });
  return socket;
}

export const client = new Client({
  url: "/graphql",
  preferGetMethod: false,
  requestPolicy: "network-only",
  fetchOptions: (): RequestInit => {
    const headers: Record<string, string> = {};
    if (csrfToken) headers["x-csrf-token"] = csrfToken;
    return { credentials: "same-origin", headers };
  },
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query ?? "" };
        return {
          subscribe(sink) {
            const unsubscribe = ws().subscribe(input, sink);
            return { unsubscribe };
          },
        };
      },
    }),
  ],
});

/** The session's anti-CSRF token, for REST writes. */
export function csrf(): string | null {
  return csrfToken;
}

/** Remembers the session's anti-CSRF token (in memory only) and what to do when the session ends. */
export function useSession(token: string | null, signedOut: () => void): void {
  csrfToken = token;
  onSignedOut = signedOut;
  if (!token) {
    socket?.dispose();
    socket = null;
  }
}

function check<R>(result: { data?: R | undefined; error?: CombinedError | undefined }): R {
  if (result.error) {
    const problems = fromCombined(result.error);
    if (problems.some((p) => p.code === "UNAUTHENTICATED")) onSignedOut();
    throw new ApiFailure(problems);
  }
  if (result.data === undefined) throw new ApiFailure([{ message: "The server sent no data." }]);
  return result.data;
}

// urql shares the answer of an identical query (same document and variables) while one is in flight: a read
// asked after a change would get the answer of a read begun before it. Each read waits for such an earlier one
// to end, then asks the server itself.
const reading = new Map<string, Promise<unknown>>();

/** Runs a query; a failure throws an ApiFailure with the problems in words. */
export async function query<R, V extends AnyVariables>(document: Document<R, V>, variables: V): Promise<R> {
  const text = document.toString();
  const key = `${text}\n${JSON.stringify(variables)}`;
  for (let earlier = reading.get(key); earlier; earlier = reading.get(key)) {
    await earlier.catch(() => undefined);
  }
  const running = client.query<R, V>(text, variables).toPromise();
  reading.set(key, running);
  try {
    return check(await running);
  } finally {
    if (reading.get(key) === running) reading.delete(key);
  }
}

/** Runs a mutation; a failure of the whole request throws (its payload's userErrors are the caller's). */
export async function mutate<R, V extends AnyVariables>(document: Document<R, V>, variables: V): Promise<R> {
  return check(await client.mutation<R, V>(document.toString(), variables).toPromise());
}

/** Follows a subscription until the returned function is called; errors go to `failed`. */
export function subscribe<R, V extends AnyVariables>(
  document: Document<R, V>,
  variables: V,
  next: (data: R) => void,
  failed: (error: ApiFailure) => void = () => {},
): () => void {
  const { unsubscribe } = client.subscription<R, V>(document.toString(), variables).subscribe((result) => {
    if (result.error) failed(new ApiFailure(fromCombined(result.error)));
    else if (result.data) next(result.data);
  });
  return unsubscribe;
}
