import { describe, expect, it } from "vitest";
import { WireHeader, decodeTensor, decodeTrait } from "../core/wire";
import fixtures from "./fixtures/wire.json";

describe("decodeTensor", () => {
  it("honours the DataView's byteOffset and byteLength inside a larger buffer", () => {
    const values = new Float32Array([1.5, -2, 3.25, 4, 5, 6]);
    const big = new ArrayBuffer(8 + values.byteLength + 8);
    new Uint8Array(big).fill(0xff);
    new Uint8Array(big, 8, values.byteLength).set(new Uint8Array(values.buffer));
    const view = new DataView(big, 8, values.byteLength);
    const t = decodeTensor({ dtype: "float32", shape: [2, 3] }, view);
    expect(Array.from({ length: 6 }, (_, i) => t.value(i))).toEqual([1.5, -2, 3.25, 4, 5, 6]);
    expect(t.shape).toEqual([2, 3]);
  });

  it("copies when the slice is not aligned for the element type", () => {
    const big = new ArrayBuffer(1 + 8);
    const ints = new Int32Array([7, -9]);
    new Uint8Array(big, 1, 8).set(new Uint8Array(ints.buffer));
    const t = decodeTensor({ dtype: "int32", shape: [2] }, new DataView(big, 1, 8));
    expect([t.value(0), t.value(1)]).toEqual([7, -9]);
  });

  it("dequantises uint8 with scale and offset", () => {
    const t = decodeTensor({ dtype: "uint8", shape: [3], scale: 0.5, offset: -1 }, new Uint8Array([0, 2, 255]));
    expect([t.value(0), t.value(1), t.value(2)]).toEqual([-1, 0, 126.5]);
    expect(t.raw[2]).toBe(255);
  });

  it("decodes float16 little-endian", () => {
    // 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800
    const bytes = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]);
    const t = decodeTensor({ dtype: "float16", shape: [3] }, bytes);
    expect([t.value(0), t.value(1), t.value(2)]).toEqual([1, -2, 0.5]);
  });

  it("refuses truncated data and unknown dtypes with a clear message", () => {
    expect(() => decodeTensor({ dtype: "float32", shape: [4] }, new Uint8Array(8))).toThrow(/too short/);
    expect(() => decodeTensor({ dtype: "float64", shape: [1] }, new Uint8Array(8))).toThrow(/unsupported wire dtype/);
  });

  it("decodes a trait value and treats an empty trait as nothing", () => {
    expect(decodeTrait({} as never)).toBeNull();
    const t = decodeTrait({ dtype: "uint8", shape: [1], data: new DataView(new Uint8Array([9]).buffer) });
    expect(t!.value(0)).toBe(9);
  });
});

describe("fixtures encoded by Python (llmxai_widgets/wire.py)", () => {
  it("decode to the values Python encoded", () => {
    for (const c of fixtures as Array<{ name: string; header: WireHeader; base64: string; expected: number[]; tolerance: number }>) {
      const raw = Uint8Array.from(atob(c.base64), (ch) => ch.charCodeAt(0));
      // Place the bytes at an odd offset inside a bigger buffer, as websocket messages do.
      const big = new Uint8Array(raw.length + 3);
      big.set(raw, 3);
      const t = decodeTensor(c.header, new DataView(big.buffer, 3, raw.length));
      expect(t.shape, c.name).toEqual(c.header.shape);
      c.expected.forEach((v, i) => expect(Math.abs(t.value(i) - v), `${c.name}[${i}]`).toBeLessThanOrEqual(Math.max(c.tolerance, Math.abs(v) * 1e-6)));
    }
  });
});
