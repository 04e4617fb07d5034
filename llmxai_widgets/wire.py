"""The wire format: numpy arrays as binary buffers with a small header, never JSON lists.

A wire tensor is ``{"dtype", "shape", "data"}`` plus ``"scale"`` and ``"offset"`` when quantised
to uint8 (value = byte * scale + offset). ``data`` is little-endian bytes, row-major. Inside a
trait the header and bytes travel together (ipywidgets moves ``bytes`` values to binary
buffers); in a custom message the header goes in the JSON part and the bytes as a buffer.
The JS side is ``js/core/wire.ts``.
"""

from __future__ import annotations

import numpy as np

WIRE_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float16", "float32")
_NARROW = {np.dtype("float64"): np.dtype("float32"), np.dtype("int64"): np.dtype("int32"),
           np.dtype("bool"): np.dtype("uint8")}


def to_wire(array, *, quantize: str | None = None, value_range=None) -> tuple[dict, bytes]:
    """``(header, data)`` for ``array``.

    - ``quantize="uint8"``: 1 byte per value over ``value_range`` (default: the data's min..max);
      the error is at most ``scale / 2``.
    - ``quantize="float16"``: half precision.
    - float64, int64 and bool are narrowed to float32, int32 and uint8 (int64 values must fit).
    """
    arr = np.asarray(array)
    if quantize == "uint8":
        return _quantize_uint8(arr, value_range)
    if quantize == "float16":
        arr = arr.astype(np.float16)
    elif quantize is not None:
        raise ValueError(f"quantize must be None, 'uint8' or 'float16', got {quantize!r}")
    target = _NARROW.get(arr.dtype, arr.dtype)
    if arr.dtype == np.int64 and arr.size and (arr.min() < -(2**31) or arr.max() >= 2**31):
        raise ValueError("int64 values outside the int32 range cannot go on the wire")
    if target.name not in WIRE_DTYPES:
        raise TypeError(f"dtype {arr.dtype} cannot go on the wire; use one of {WIRE_DTYPES}")
    arr = np.ascontiguousarray(arr, dtype=target.newbyteorder("<"))
    return {"dtype": target.name, "shape": list(arr.shape)}, arr.tobytes()


def _quantize_uint8(arr: np.ndarray, value_range) -> tuple[dict, bytes]:
    values = arr.astype(np.float32, copy=False)
    if value_range is None:
        lo = float(values.min()) if values.size else 0.0
        hi = float(values.max()) if values.size else 1.0
    else:
        lo, hi = (float(v) for v in value_range)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    # In place on one float32 copy: a 4,096-token slice is 67 MB, and temporaries add up.
    work = np.array(values, dtype=np.float32)
    work -= np.float32(lo)
    work *= np.float32(1.0 / scale)
    np.rint(work, out=work)
    np.clip(work, 0, 255, out=work)
    codes = work.astype(np.uint8)
    header = {"dtype": "uint8", "shape": list(arr.shape), "scale": scale, "offset": lo}
    return header, codes.tobytes()


def encode(array, **options) -> dict:
    """A wire tensor as one dict (header + ``data`` bytes), for traits."""
    header, data = to_wire(array, **options)
    return {**header, "data": data}


def decode(tensor: dict, data: bytes | memoryview | None = None) -> np.ndarray:
    """Inverse of :func:`encode`/:func:`to_wire`; quantised tensors come back as float32."""
    raw = tensor["data"] if data is None else data
    arr = np.frombuffer(raw, dtype=np.dtype(tensor["dtype"]).newbyteorder("<"))
    arr = arr.reshape(tensor["shape"])
    if "scale" in tensor:
        return arr.astype(np.float32) * np.float32(tensor["scale"]) + np.float32(tensor["offset"])
    return arr
