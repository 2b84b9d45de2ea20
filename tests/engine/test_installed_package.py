"""The shipped weights load from an installed package, offline (issue 3's first test).

Every other test imports the checkout (an editable install). Here the project is built as a wheel,
installed into a folder of its own, and a process started outside the checkout, with every socket
refused, imports it from there and fills a hole with the embedded model: what a user who ran
`pip install dg-lsp` gets with no network.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "engine" / "weights"
SHIPPED = ("config.json", "model.safetensors", "tokenizer.json", "MODEL_CARD.md")

# Run in the installed copy's process: no socket may connect (a hub lookup, a download), and the
# packages must come from the installed folder, not the checkout.
PROBE = r"""
import json, socket, sys
from pathlib import Path

def refuse(*args, **kwargs):
    raise OSError("network access attempted")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse

site = Path(sys.argv[1]).resolve()
import dg_lsp, engine, engine.api
from engine.api import Hole, InfillRequest, load_engine

eng = load_engine("embedded", "cpu")
res = eng.infill(InfillRequest(["def add(a, b):\n    ", Hole(max_tokens=16, single_line=True), "\n\nprint(add(1, 2))\n"]))
from dg_lsp.cli import main  # the console script's entry point imports from the same place
print(json.dumps({
    "engine": [str(Path(p).resolve()) for p in engine.__path__],  # a namespace package: every part of it
    "engine.api": str(Path(engine.api.__file__).resolve()), "dg_lsp": str(Path(dg_lsp.__file__).resolve()),
    "site": str(site), "model": eng.info["model"], "parameters": eng.info.get("parameters"),
    "fill": res.candidates[0].fills[0], "nfe": res.stats.nfe,
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    if not (WEIGHTS / "model.safetensors").exists():
        pytest.skip("engine/weights/model.safetensors does not exist yet (the model is still training)")
    tmp = tmp_path_factory.mktemp("installed")
    src = tmp / "src"  # a copy, so the build's scratch folders stay out of the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("dg_lsp", "engine", "benchmarks"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    wheels = tmp / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(src)],
                   check=True, timeout=240)
    (wheel,) = wheels.glob("dg_lsp-*.whl")
    target = tmp / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)], check=True, timeout=240)
    return target


def test_the_wheel_carries_the_shipped_weights(installed):
    (wheel,) = installed.parent.joinpath("wheels").glob("dg_lsp-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = {i.filename: i.file_size for i in zf.infolist()}
    for name in SHIPPED:
        assert names.get(f"engine/weights/{name}") == (WEIGHTS / name).stat().st_size, name
    for name in SHIPPED:  # and the install put them where the engine looks
        assert (installed / "engine" / "weights" / name).read_bytes() == (WEIGHTS / name).read_bytes()


def test_the_installed_package_fills_offline_from_its_own_weights(installed: Path, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HF_", "TRANSFORMERS_"))}
    # `-S`: no .pth files run, so the checkout's editable install (a finder that maps `engine` and
    # `dg_lsp` to the checkout) is not there; the dependencies come from site-packages on the path
    path = [str(installed), *site.getsitepackages(), site.getusersitepackages()]
    env.update(PYTHONPATH=os.pathsep.join(path), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-S", "-c", PROBE, str(installed)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    where = Path(got["site"])
    for path in (*got["engine"], got["engine.api"], got["dg_lsp"]):  # from the installed folder, not the checkout
        assert Path(path).is_relative_to(where), got
    assert Path(got["model"]).resolve() == (where / "engine" / "weights").resolve()
    with safe_open(str(WEIGHTS / "model.safetensors"), "pt") as f:  # the checkout's weights, counted here
        assert got["parameters"] == sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    assert got["nfe"] >= 1
    assert got["fill"].strip(), got  # the trained model writes something on this line
    assert "\n" not in got["fill"].rstrip("\n")  # one line, as asked
