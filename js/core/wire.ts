// Decoder for the wire format of llmxai_widgets/wire.py: {dtype, shape, scale?, offset?} + bytes.
// Buffers arrive as DataViews into larger ArrayBuffers, so byteOffset/byteLength are honoured.

export type WireHeader = {
  dtype: string;
  shape: number[];
  scale?: number;
  offset?: number;
};

export type Tensor = {
  shape: number[];
  /** Raw values as they travelled (uint8 codes when quantised). */
  raw: ArrayLike<number>;
  scale: number;
  offset: number;
  /** Real value at flat index i (raw * scale + offset). */
  value(i: number): number;
};

type Ctor = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayLike<number>;
  BYTES_PER_ELEMENT: number;
};

const CTORS: Record<string, Ctor> = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
};

export type Bytes = DataView | ArrayBuffer | ArrayBufferView;

function asBytes(data: Bytes): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const MAX_DIMS = 8;

/** The element count of a well-formed header; an Error naming what is wrong otherwise (a
 * malformed or hostile message never reaches an allocation). */
export function checkHeader(header: WireHeader, byteLength: number): number {
  if (!header || typeof header !== "object") throw new Error("wire tensor without a header");
  const shape = header.shape as unknown;
  if (!Array.isArray(shape) || shape.length > MAX_DIMS || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`wire tensor with a bad shape ${JSON.stringify(shape)?.slice(0, 80)}: expected up to ${MAX_DIMS} non-negative integers`);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const size = header.dtype === "float16" ? 2 : CTORS[header.dtype]?.BYTES_PER_ELEMENT;
  if (!size) throw new Error(`unsupported wire dtype ${String(header.dtype).slice(0, 40)}`);
  if (!Number.isSafeInteger(count * size) || byteLength < count * size) {
    throw new Error(`wire tensor too short: ${byteLength} bytes for shape [${shape}] ${header.dtype}`);
  }
  for (const key of ["scale", "offset"] as const) {
    const v = header[key];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v))) throw new Error(`wire tensor with a bad ${key} ${String(v).slice(0, 40)}`);
  }
  return count;
}

export function decodeTensor(header: WireHeader, data: Bytes): Tensor {
  if (!data || !(data instanceof ArrayBuffer || ArrayBuffer.isView(data))) throw new Error("wire tensor without its bytes");
  const bytes = asBytes(data);
  const count = checkHeader(header, bytes.byteLength);
  let raw: ArrayLike<number>;
  if (header.dtype === "float16") {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
    raw = out;
  } else {
    const ctor = CTORS[header.dtype];
    const need = count * ctor.BYTES_PER_ELEMENT;
    // Typed arrays need aligned offsets; copy when the buffer slice is not aligned.
    const aligned = bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0;
    const src = aligned ? bytes : bytes.slice(0, need);
    raw = new ctor(src.buffer as ArrayBuffer, src.byteOffset, count);
  }
  const scale = header.scale ?? 1;
  const offset = header.offset ?? 0;
  const quantised = header.scale !== undefined;
  return {
    shape: header.shape,
    raw,
    scale,
    offset,
    value: quantised ? (i) => raw[i] * scale + offset : (i) => raw[i],
  };
}

/** A trait-held tensor: header fields plus `data` (a DataView after ipywidgets deserialises). */
export function decodeTrait(trait: (WireHeader & { data: Bytes }) | null | undefined): Tensor | null {
  if (!trait || !trait.data || !trait.shape) return null;
  return decodeTensor(trait, trait.data);
}
