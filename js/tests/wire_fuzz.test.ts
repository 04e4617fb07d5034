// Fuzz: malformed or truncated wire tensors and saved-page buffers end in an Error that names the
// problem, never a hang, a crash of another kind, or a tensor that reads past its bytes.
import { describe, expect, it } from "vitest";
import { decodeTensor, WireHeader } from "../core/wire";
import { decodeState, putAt, unpack } from "../standalone/model";

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float16", "float64", "", "__proto__"];
const ODD = [-1, 1.5, NaN, Infinity, 2 ** 53, "3", null, undefined, {}, []];

function header(r: () => number): WireHeader {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const dims = Math.floor(r() * 5);
  const shape: unknown[] = Array.from({ length: dims }, () => (r() < 0.15 ? pick(ODD) : Math.floor(r() * 6)));
  const h: Record<string, unknown> = { dtype: pick(DTYPES), shape: r() < 0.05 ? pick(ODD) : shape };
  if (r() < 0.3) h.scale = r() < 0.3 ? pick(ODD) : r();
  if (r() < 0.3) h.offset = r() < 0.3 ? pick(ODD) : r();
  return h as WireHeader;
}

describe("wire decoder against malformed input", () => {
  it("decodes well-formed tensors or throws an Error naming the problem (3,000 random cases)", () => {
    const r = rng(16);
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const h = header(r);
      const offset = Math.floor(r() * 3);
      const buffer = new ArrayBuffer(offset + Math.floor(r() * 64));
      new Uint8Array(buffer).forEach((_, j, a) => { a[j] = Math.floor(r() * 256); });
      const data = new DataView(buffer, offset);
      try {
        const t = decodeTensor(h, data);
        const count = t.shape.reduce((a, b) => a * b, 1);
        for (let j = 0; j < count; j++) expect(typeof t.value(j)).toBe("number");
        expect(t.raw.length).toBe(count);
        decoded++;
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        expect(String((err as Error).message)).toMatch(/wire/);
        refused++;
      }
    }
    expect(decoded).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it("refuses a huge shape before allocating, and a missing buffer", () => {
    expect(() => decodeTensor({ dtype: "float16", shape: [1e6, 1e6] }, new ArrayBuffer(8))).toThrow(/too short/);
    expect(() => decodeTensor({ dtype: "float32", shape: [2 ** 40, 2 ** 40] }, new ArrayBuffer(8))).toThrow(/too short/);
    expect(() => decodeTensor({ dtype: "float32", shape: [2] }, undefined as never)).toThrow(/without its bytes/);
  });
});

describe("saved page buffers against malformed input", () => {
  it("refuses buffers that are not base64 or hex, lie outside the data, or have hostile paths", () => {
    expect(() => decodeState({}, [{ path: ["a"], encoding: "base64", data: "%%%not base64" }])).toThrow(/not base64/);
    expect(() => decodeState({}, [{ path: ["a"], encoding: "hex", data: "zz" }])).toThrow(/not hexadecimal/);
    expect(() => decodeState({}, [{ path: ["a"], encoding: "hex", data: "abc" }])).toThrow(/not hexadecimal/);
    expect(() => unpack({ value: {}, buffers: [{ path: ["a"], offset: 4, length: 10 }] }, new ArrayBuffer(8))).toThrow(/outside/);
    expect(() => unpack({ value: {}, buffers: [{ path: ["a"], offset: -1, length: 1 }] }, new ArrayBuffer(8))).toThrow(/outside/);
    expect(() => putAt({}, ["__proto__", "x"], 1)).toThrow(/path holds/);
    expect(() => putAt({}, [{} as never], 1)).toThrow(/path holds/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    const ok = decodeState({ a: { b: 1 } }, [{ path: ["a", "data"], encoding: "hex", data: "0102" }]);
    expect(new Uint8Array((ok.a as { data: DataView }).data.buffer)).toEqual(new Uint8Array([1, 2]));
  });

  it("random truncations of a good state end in an Error or a good state (500 cases)", () => {
    const r = rng(7);
    const good = btoa(String.fromCharCode(...Array.from({ length: 24 }, (_, i) => i)));
    for (let i = 0; i < 500; i++) {
      const cut = good.slice(0, Math.floor(r() * good.length)) + (r() < 0.3 ? "@" : "");
      try {
        const state = decodeState({ t: { dtype: "float32", shape: [6] } }, [{ path: ["t", "data"], encoding: "base64", data: cut }]);
        const t = state.t as WireHeader & { data: DataView };
        try {
          decodeTensor(t, t.data);
        } catch (err) {
          expect(String((err as Error).message)).toMatch(/wire tensor too short/);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        expect(String((err as Error).message)).toMatch(/not base64/);
      }
    }
  });
});
