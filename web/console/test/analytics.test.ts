// The analytics page's filters and buckets: what the address means, and the limits the server enforces.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bucketStarts, fill, filterQuery, readFilters, windowOf } from "../src/lib/analytics";

const now = new Date("2026-12-06T10:20:00Z");

test("an address without filters means the last 30 days by day, and round-trips", () => {
  const filters = readFilters(new URLSearchParams(""), now);
  assert.equal(filterQuery(filters), "range=30d&granularity=DAY");
  const result = windowOf(filters, now);
  assert.ok(result.window);
  assert.equal(result.window.from.toISOString(), "2026-11-07T00:00:00.000Z");
  assert.equal(result.window.to.toISOString(), "2026-12-06T11:00:00.000Z");
});

test("custom dates include both days, and a reversed range is refused beside the last day", () => {
  const ok = windowOf(
    readFilters(new URLSearchParams("range=custom&from=2026-11-20&to=2026-12-05"), now),
    now,
  );
  assert.equal(ok.window?.from.toISOString(), "2026-11-20T00:00:00.000Z");
  assert.equal(ok.window?.to.toISOString(), "2026-12-06T00:00:00.000Z");
  const reversed = windowOf(
    readFilters(new URLSearchParams("range=custom&from=2026-12-05&to=2026-11-20"), now),
    now,
  );
  assert.equal(reversed.window, null);
  assert.equal(reversed.problems[0]?.field, "to");
});

test("hourly buckets over 90 days exceed the server's 2,000-bucket limit and are refused beside the grouping", () => {
  const result = windowOf(readFilters(new URLSearchParams("range=90d&granularity=HOUR"), now), now);
  assert.equal(result.window, null);
  assert.equal(result.problems[0]?.field, "granularity");
});

test("weeks start on Monday (ISO), and the buckets the server leaves out count zero", () => {
  const window = { from: new Date("2026-11-18T00:00:00Z"), to: new Date("2026-12-06T00:00:00Z") };
  const starts = bucketStarts(window, "WEEK");
  assert.deepEqual(
    starts.map((s) => s.toISOString().slice(0, 10)),
    ["2026-11-16", "2026-11-23", "2026-11-30"],
  );
  assert.deepEqual(
    fill(starts, [{ start: "2026-11-23T00:00:00Z", count: 4 }], (b) => b.count),
    [0, 4, 0],
  );
});
