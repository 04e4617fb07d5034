import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest

from llmxai_widgets.wire import decode, encode, to_wire


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float16"])
def test_round_trip_keeps_values_and_shape(dtype):
    rng = np.random.default_rng(0)
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    back = decode(encode(arr))
    assert back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, arr)


def test_wide_types_are_narrowed_never_sent_as_64_bit():
    header, data = to_wire(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert header == {"dtype": "float32", "shape": [2, 3]}
    assert len(data) == 6 * 4
    header, _ = to_wire(np.arange(4, dtype=np.int64))
    assert header["dtype"] == "int32"
    with pytest.raises(ValueError, match="int32 range"):
        to_wire(np.array([2**40]))


def test_uint8_quantisation_error_is_at_most_half_a_step():
    rng = np.random.default_rng(1)
    arr = rng.uniform(-3, 5, size=(50, 50)).astype(np.float32)
    tensor = encode(arr, quantize="uint8")
    assert tensor["dtype"] == "uint8" and len(tensor["data"]) == arr.size
    back = decode(tensor)
    assert np.abs(back - arr).max() <= tensor["scale"] / 2 + 1e-6
    assert back.min() == pytest.approx(arr.min(), abs=1e-6)


def test_quantisation_over_a_given_range_clamps():
    tensor = encode(np.array([-1.0, 0.0, 0.4, 1.0, 2.0]), quantize="uint8", value_range=(0, 1))
    assert tensor["scale"] == pytest.approx(1 / 255)
    np.testing.assert_allclose(decode(tensor), [0, 0, 0.4, 1, 1], atol=0.5 / 255)


def test_byte_order_and_non_contiguous_input():
    arr = np.arange(12, dtype=">f4").reshape(3, 4)[:, ::2]  # big-endian view with strides
    header, data = to_wire(arr)
    assert np.frombuffer(data, "<f4").tolist() == arr.ravel().tolist()
    assert header["shape"] == [3, 2]


def test_unknown_quantisation_is_refused():
    with pytest.raises(ValueError, match="quantize must be"):
        to_wire(np.zeros(3), quantize="int4")


FIXTURE = Path(__file__).resolve().parent.parent / "js" / "tests" / "fixtures" / "wire.json"


def _fixture_cases() -> list[dict]:
    """Arrays encoded by Python; js/tests/wire.test.ts decodes the same file and checks the values."""
    rng = np.random.default_rng(7)
    arrays = {
        "float32": (rng.normal(size=(2, 3)).astype(np.float32), None),
        "float16": (np.array([0.5, -2.0, 65504.0, 1e-4], np.float16), None),
        "int32": (np.array([[-(2**31), 0, 2**31 - 1]], np.int64), None),
        "uint8-quantised": (rng.uniform(0, 0.8, size=(3, 3)), "uint8"),
    }
    cases = []
    for name, (arr, quantize) in arrays.items():
        header, data = to_wire(arr, quantize=quantize)
        cases.append({
            "name": name,
            "header": header,
            "base64": base64.b64encode(data).decode(),
            "expected": decode(header, data).astype(np.float64).ravel().tolist(),
            "tolerance": header.get("scale", 0) / 2 + 1e-9,
            "original": np.asarray(arr, np.float64).ravel().tolist(),
        })
    return cases


def test_python_encodings_match_the_fixture_the_js_decoder_is_tested_on():
    cases = _fixture_cases()
    if os.environ.get("LLMXAI_UPDATE_FIXTURES"):
        FIXTURE.write_text(json.dumps(cases, indent=1) + "\n")
    assert json.loads(FIXTURE.read_text()) == json.loads(json.dumps(cases)), (
        "the wire format changed: rerun with LLMXAI_UPDATE_FIXTURES=1 and check js tests"
    )
    for case in cases:
        np.testing.assert_allclose(case["expected"], case["original"], atol=case["tolerance"] or 1e-3, rtol=1e-3)
