// colors.test.ts — WCAG contrast and the text colour on the primary colour.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { contrastRatio, NEAR_BLACK, readableTextColor, WHITE } from "../src/colors";

describe("contrast", () => {
  it("computes WCAG ratios", () => {
    assert.equal(Math.round(contrastRatio("#000000", "#ffffff") * 100) / 100, 21);
    assert.equal(contrastRatio("#777777", "#777777"), 1);
    assert.ok(Math.abs(contrastRatio("#0071e3", "#ffffff") - 4.7) < 0.05);
  });

  it("puts white on dark primaries and near-black on light ones, always at least 4.5:1", () => {
    assert.equal(readableTextColor("#0071e3"), WHITE);
    assert.equal(readableTextColor("#aa3300"), WHITE);
    assert.equal(readableTextColor("#ffcc00"), NEAR_BLACK);
    assert.equal(readableTextColor("#ffffff"), NEAR_BLACK);
    assert.equal(readableTextColor("#00ff00"), NEAR_BLACK);
    for (let i = 0; i < 4096; i++) {
      const hex = `#${[i >> 8, (i >> 4) & 15, i & 15].map((c) => (c * 17).toString(16).padStart(2, "0")).join("")}`;
      const text = readableTextColor(hex);
      assert.ok(contrastRatio(hex, text) >= 4.5, `${hex} with ${text}`);
    }
  });
});
