// backoff.ts — the retry schedule (1 s doubling to 30 s, with jitter) and a cancellable sleep.

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 30000;

/** The nominal delay before retry number `attempt` (0-based): 1 s, 2 s, 4 s … capped at 30 s. */
export function backoffCeiling(attempt: number): number {
  const exponent = Number.isFinite(attempt) ? Math.min(Math.max(0, Math.floor(attempt)), 16) : 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** exponent);
}

/**
 * The delay before retry number `attempt`, with "equal jitter": uniformly between half the nominal delay and the
 * nominal delay, so that many widgets that lost the server at once do not come back in step.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(ceiling / 2 + (r * ceiling) / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}
