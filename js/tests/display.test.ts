import { describe, expect, it } from "vitest";
import { displayToken } from "../core/layout";
import fixture from "./fixtures/display_tokens.json";

// Written by tests/test_figures.py from the Python twin (llmxai_widgets/figures/text.py): the
// screen and every export label tokens the same way.
const cases = fixture as Array<[string, string]>;

describe("displayToken", () => {
  it("labels tokens exactly as the Python exports do", () => {
    expect(cases.length).toBeGreaterThan(10);
    for (const [token, shown] of cases) expect(displayToken(token)).toBe(shown);
  });
});
