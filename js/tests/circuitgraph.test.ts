import { describe, expect, it } from "vitest";
import { Layout, edgeCurve, nWriters, nearestCurve, pointAt, reader, readerName, rowY, writer, writerAt, writerName } from "../core/circuitgraph";

const L: Layout = { nLayers: 3, nHeads: 4, nKv: 2, width: 600 };

describe("circuit graph geometry", () => {
  it("places writers in the graph's order: emb, then per block its heads and its MLP", () => {
    expect(nWriters(L)).toBe(1 + 3 * 5);
    expect(writer(L, 0).kind).toBe("emb");
    expect(writer(L, 1)).toMatchObject({ kind: "head", layer: 0, head: 0 });
    expect(writer(L, 5)).toMatchObject({ kind: "mlp", layer: 0 });
    expect(writer(L, 6)).toMatchObject({ kind: "head", layer: 1, head: 0 });
    expect(writer(L, 6).y).toBeLessThan(writer(L, 1).y); // later blocks higher up
    expect(writerName(L, 7)).toBe("L1 H1");
  });

  it("puts a key/value head's ports in the middle of the query heads that read it", () => {
    // per layer: q0..q3, k0, k1, v0, v1, mlp
    expect(reader(L, 4)).toMatchObject({ kind: "k", layer: 0, index: 0 });
    expect(reader(L, 7)).toMatchObject({ kind: "v", layer: 0, index: 1 });
    const mid = (writer(L, 1).x + writer(L, 2).x) / 2;
    expect(reader(L, 4).x).toBeCloseTo(mid - 3);
    expect(reader(L, 6).x).toBeCloseTo(mid + 3);
    expect(reader(L, 8).kind).toBe("mlp");
    expect(reader(L, 27)).toMatchObject({ kind: "logits", layer: 3 });
    expect(readerName(L, 13)).toBe("L1 KV0 keys");
  });

  it("finds the edge under the mouse and the node under the mouse", () => {
    const curves = [edgeCurve(L, 0, 27), edgeCurve(L, 1, 9)];
    const p = pointAt(curves[1], 0.5);
    expect(nearestCurve(curves, p)).toBe(1);
    expect(nearestCurve(curves, { x: p.x + 40, y: p.y + 3 })).toBe(-1);
    const node = writer(L, 8);
    expect(writerAt(L, { x: node.x + 1, y: node.y })).toBe(8);
    expect(writerAt(L, { x: 1, y: rowY(L, 1) })).toBe(-1);
  });

  it("bows an edge between nodes of one column out, clear of the nodes between them", () => {
    const c = edgeCurve(L, 5, 26); // MLP 0 -> MLP 2, past MLP 1
    const between = writer(L, 10);
    expect(between.kind).toBe("mlp");
    for (let t = 0; t <= 1; t += 1 / 32) {
      const p = pointAt(c, t);
      expect(Math.hypot(p.x - between.x, p.y - between.y)).toBeGreaterThan(2 * 5);
    }
    const next = edgeCurve(L, 5, 17); // MLP 0 -> MLP 1: neighbours, straight
    expect(pointAt(next, 0.5).x).toBeCloseTo(writer(L, 5).x);
  });
});
