// Figures in words: sentiment by VADER's ±0.05 convention, shares as percentages.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ago, percent, sentimentWords } from "../src/lib/format";

test("sentiment reads as the server's distribution counts it", () => {
  assert.equal(sentimentWords(-0.06), "negative");
  assert.equal(sentimentWords(-0.05), "neutral");
  assert.equal(sentimentWords(0.05), "neutral");
  assert.equal(sentimentWords(0.5), "positive");
  assert.equal(sentimentWords(null), "unknown");
});

test("shares are rounded percentages, and a missing one is a dash", () => {
  assert.equal(percent(0.346), "35%");
  assert.equal(percent(1), "100%");
  assert.equal(percent(undefined), "—");
});

test("how long ago picks the largest unit that fits", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  assert.match(ago("2026-12-06T11:59:30Z", now), /30 seconds ago/);
  assert.match(ago("2026-12-06T09:00:00Z", now), /3 hours ago/);
  assert.match(ago("2026-12-04T12:00:00Z", now), /2 days ago/);
});
