// api.ts — the visitor API client (`{origin}/widget/v1`): bearer token, JSON bodies, a 15 s timeout and typed errors.

import { readError } from "./wire";

/** A request without response headers after this long is abandoned. */
export const TIMEOUT_MS = 15000;
/** An upload's answer comes after all its bytes went up: a slower connection gets longer. */
export const UPLOAD_TIMEOUT_MS = 120000;

/** The server answered with an error status; `message` is what the server said, fit to show the visitor. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** No answer: the network failed, the server is down, it timed out, or the caller aborted. */
export class NetworkError extends Error {
  constructor(
    readonly timedOut: boolean,
    readonly aborted = false,
  ) {
    super(aborted ? "aborted" : timedOut ? "timed out" : "network error");
    this.name = "NetworkError";
  }
}

/** Worth trying again later: no answer, a server error, or a rate limit. */
export function isTransient(error: unknown): boolean {
  if (error instanceof NetworkError) return !error.aborted;
  return error instanceof HttpError && (error.status >= 500 || error.status === 429 || error.status === 408);
}

export interface RequestOptions {
  body?: unknown;
  /** Raw bytes to send instead of a JSON body (an upload), with their own type as Content-Type. */
  raw?: Blob;
  /** Ask for `text/event-stream`; the timeout then covers the response headers only. */
  stream?: boolean;
  signal?: AbortSignal;
  keepalive?: boolean;
  timeoutMs?: number;
}

function retryAfter(response: Response): number | null {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}

async function toHttpError(response: Response): Promise<HttpError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const error = readError(body);
  return new HttpError(
    response.status,
    error?.code ?? "",
    error?.message || `the server answered ${response.status}`,
    retryAfter(response),
  );
}

export class Api {
  /** `origin` is the server's; `token` gives the current widget token, if any. */
  constructor(
    private readonly origin: string,
    private readonly token: () => string | null,
  ) {}

  /** A JSON request; resolves with the parsed body (null for a 204 or an empty body). */
  async json(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<unknown> {
    const { response, release } = await this.send(method, path, { ...options, body });
    try {
      const text = await response.text();
      return text ? (JSON.parse(text) as unknown) : null;
    } catch {
      throw new NetworkError(false, !!options.signal?.aborted);
    } finally {
      release();
    }
  }

  /** Sends `file`'s bytes as the body (`POST`); resolves with the parsed JSON answer. */
  upload(path: string, file: Blob, options: RequestOptions = {}): Promise<unknown> {
    return this.json("POST", path, undefined, { timeoutMs: UPLOAD_TIMEOUT_MS, ...options, raw: file });
  }

  /**
   * A request answered with `text/event-stream` (or, from a server that does not stream, JSON): resolves once the
   * headers arrive; from then on only `options.signal` ends it.
   */
  async stream(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<Response> {
    const { response, release } = await this.send(method, path, { ...options, body, stream: true });
    release();
    return response;
  }

  /** Sends a request; resolves with a 2xx response and the release of its timeout, else throws. */
  private async send(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<{ response: Response; release: () => void }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs ?? TIMEOUT_MS);
    const release = (): void => clearTimeout(timer);
    const outer = options.signal;
    if (outer?.aborted) controller.abort();
    else outer?.addEventListener("abort", () => controller.abort());
    const headers: Record<string, string> = {
      Accept: options.stream ? "text/event-stream" : "application/json",
    };
    const token = this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    const raw = options.raw;
    if (raw) headers["Content-Type"] = raw.type || "application/octet-stream";
    else if (options.body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.origin}/widget/v1${path}`, {
        method,
        headers,
        body: raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
        keepalive: options.keepalive,
      });
    } catch {
      release();
      throw new NetworkError(timedOut, !!outer?.aborted);
    }
    if (!response.ok) {
      try {
        throw await toHttpError(response);
      } finally {
        release();
      }
    }
    return { response, release };
  }
}
