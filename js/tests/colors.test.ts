import { describe, expect, it } from "vitest";
import tables from "../../llmxai_widgets/colormaps.json";
import { colorIndex, cssColor, lut, rgb } from "../core/colors";

describe("colour tables", () => {
  it("reads the 256-entry tables Python uses", () => {
    for (const name of Object.keys(tables)) expect(lut(name).length).toBe(768);
    expect(rgb("viridis", 0)).toEqual([68, 1, 84]); // viridis' dark purple end
    expect(rgb("viridis", 255)).toEqual([253, 231, 37]); // and its yellow end
    expect(cssColor("viridis", 0)).toBe("rgb(68, 1, 84)");
  });

  it("maps values with the same rounding rule as colors.color_index", () => {
    expect(colorIndex(0, 0, 1)).toBe(0);
    expect(colorIndex(1, 0, 1)).toBe(255);
    expect(colorIndex(0.5, 0, 1)).toBe(128); // 127.5 rounds half up, as floor(x + 0.5) in Python
    expect(colorIndex(-3, 0, 1)).toBe(0);
    expect(colorIndex(7, 0, 1)).toBe(255);
    expect(colorIndex(0.25, 0, 0)).toBe(64); // empty range: span 1
  });
});
