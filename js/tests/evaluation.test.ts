import { describe, expect, it } from "vitest";
import { COLORS, EvaluationJson, RankingJson, agreementRgb, formatValue, rankingsOf } from "../core/evaluation";

function ranking(v: number): RankingJson {
  return { aopc_comprehensiveness: v, aopc_sufficiency: v, deletion_auc: v, insertion_auc: v, comprehensiveness: [v],
    sufficiency: [v], deletion: [v, 0], insertion: [0, v] };
}

function evaluation(method: string, baselines: boolean): EvaluationJson {
  return { method, bins: [0.5], bins_name: "custom", mode: "remove", replacement: null,
    targets: [{ target: 0, text: " Paris", full: 0.9, positions: [0], explanation: ranking(0.5),
      random: baselines ? ranking(0.2) : null, loo: baselines ? ranking(0.7) : null }] };
}

describe("evaluation rows", () => {
  it("lists each method, then random and the oracle from whichever evaluation holds them", () => {
    const rows = rankingsOf([evaluation("integrated_gradients", false), evaluation("saliency", true)], 0);
    expect(rows.map((r) => r.name)).toEqual(["integrated gradients", "saliency", "random ranking", "leave-one-out (oracle)"]);
    expect(rows.map((r) => r.dashed)).toEqual([false, false, true, true]);
    expect(rows[1].color).toBe(COLORS[1]);
    expect(rows[2].data.aopc_comprehensiveness).toBe(0.2);
  });

  it("formats missing values as a dash and colours agreement as the figure does", () => {
    expect(formatValue(null)).toBe("\u2013");
    expect(formatValue(NaN)).toBe("\u2013");
    expect(formatValue(0.12345)).toBe("0.123");
    expect(agreementRgb(0)).toEqual([255, 255, 255]);
    expect(agreementRgb(1)).toEqual([0, 114, 178]); // figures/evaluation.py _agreement_rgb
    expect(agreementRgb(-1)).toEqual([230, 159, 0]);
    expect(agreementRgb(0.5)).toEqual([128, 185, 217]);
  });
});
