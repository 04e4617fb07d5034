import json
from importlib.metadata import version
from pathlib import Path

import llmxai_widgets as lx

ROOT = Path(__file__).resolve().parent.parent


def test_one_version_for_python_and_js():
    js_version = json.loads((ROOT / "package.json").read_text())["version"]
    assert version("llmxai_widgets") == js_version
    assert lx.__version__ == js_version


def test_js_bundle_is_built_into_the_package():
    bundle = Path(lx.__file__).parent / "static" / "attention.js"
    assert bundle.exists(), "run `npm run build`"
    text = bundle.read_text()
    # Offline always: the bundle must not fetch code or data from elsewhere.
    for needle in ("https://", "http://", "cdn."):
        assert needle not in text.replace("http://www.w3.org", ""), needle
