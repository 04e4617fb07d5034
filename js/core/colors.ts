// Colour tables shared with Python (llmxai_widgets/colormaps.json, llmxai_widgets/colors.py).
import tables from "../../llmxai_widgets/colormaps.json";

const cache = new Map<string, Uint8Array>();

export function lut(name: string): Uint8Array {
  let table = cache.get(name);
  if (!table) {
    const hex = (tables as Record<string, string>)[name] ?? (tables as Record<string, string>).viridis;
    table = new Uint8Array(hex.length / 2);
    for (let i = 0; i < table.length; i++) table[i] = parseInt(hex.substr(2 * i, 2), 16);
    cache.set(name, table);
  }
  return table;
}

/** Entry of the 256-colour table for value v on vmin..vmax: same rule as colors.color_index. */
export function colorIndex(v: number, vmin: number, vmax: number): number {
  const span = vmax > vmin ? vmax - vmin : 1;
  const i = Math.floor(((v - vmin) / span) * 255 + 0.5);
  return i < 0 ? 0 : i > 255 ? 255 : i;
}

export function rgb(name: string, index: number): [number, number, number] {
  const t = lut(name);
  return [t[3 * index], t[3 * index + 1], t[3 * index + 2]];
}

export function cssColor(name: string, index: number): string {
  const [r, g, b] = rgb(name, index);
  return `rgb(${r}, ${g}, ${b})`;
}
