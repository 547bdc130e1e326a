// backoff.test.ts — the retry schedule: 1 s doubling to 30 s, with jitter.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffCeiling, backoffDelay, sleep } from "../src/backoff";

describe("backoff", () => {
  it("doubles from 1 s and stops at 30 s", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 20, 1000].map(backoffCeiling),
      [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000],
    );
  });

  it("jitters between half the delay and the delay", () => {
    assert.deepEqual(
      [0, 1, 5].map((a) => backoffDelay(a, () => 0)),
      [500, 1000, 15000],
    );
    assert.deepEqual(
      [0, 1, 5].map((a) => backoffDelay(a, () => 1)),
      [1000, 2000, 30000],
    );
    for (let attempt = 0; attempt < 12; attempt++) {
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt);
        assert.ok(
          d >= backoffCeiling(attempt) / 2 && d <= backoffCeiling(attempt) && d <= 30000,
          `${attempt}: ${d}`,
        );
      }
    }
  });

  it("never goes below zero or past the cap for odd inputs", () => {
    assert.equal(
      backoffDelay(-3, () => 1),
      1000,
    );
    assert.equal(
      backoffDelay(Number.NaN, () => 1),
      1000,
    );
    assert.equal(
      backoffDelay(3, () => 7),
      8000,
    );
  });

  it("sleeps, and wakes at once when aborted", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(10000, controller.signal);
    controller.abort();
    await slept;
    assert.ok(Date.now() - started < 1000);
    await sleep(5);
  });
});
