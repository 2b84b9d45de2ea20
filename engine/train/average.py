"""Average model folders' weights into one model folder (checkpoint averaging).

    python -m engine.train.average --out runs/avg engine/weights runs/js2/snapshot-0089600k
    python -m engine.train.average --out runs/avg --weights 0.7,0.3 A B

Weights along one training run lie in one basin; their mean often has a lower loss than any of them
(stochastic weight averaging, Izmailov et al. 2018; latest-weight averaging, Kaddour 2022; model
soups, Wortsman et al. 2022). Every folder must hold the same architecture (config.json equal but
for `tokens_seen`) and the same tokenizer. The mean is taken in float32 and written as a loadable
fp16 folder (`engine.model.save_model`); `tokens_seen` is the largest of the inputs' (the mean has
seen no more data than its latest input), and `averaged_from` in config.json names the inputs and
their weights.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from engine.model import DiffusionCoder, ModelConfig, save_model


def _config(folder: Path) -> dict:
    try:
        return json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder}: no readable config.json ({exc})") from None


def _architecture(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k not in ("tokens_seen", "averaged_from")}


def average(folders: list[Path], out: Path, weights: list[float] | None = None) -> dict:
    """Write the weighted mean of `folders`' models to `out`; returns the config written."""
    from safetensors.torch import load_file

    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise ValueError("averaging needs at least two model folders")
    weights = [1.0] * len(folders) if weights is None else [float(w) for w in weights]
    if len(weights) != len(folders):
        raise ValueError(f"{len(weights)} weights for {len(folders)} folders")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    total = sum(weights)
    weights = [w / total for w in weights]
    metas = [_config(f) for f in folders]
    tokenizer = (folders[0] / "tokenizer.json").read_bytes()
    for folder, meta in zip(folders[1:], metas[1:]):  # every check before any weights are read
        if _architecture(meta) != _architecture(metas[0]):
            raise ValueError(f"{folder}: its config.json differs from {folders[0]}'s: not the same architecture")
        if (folder / "tokenizer.json").read_bytes() != tokenizer:
            raise ValueError(f"{folder}: its tokenizer differs from {folders[0]}'s")
    mean: dict[str, torch.Tensor] = {}
    for folder, w in zip(folders, weights):
        state = load_file(str(folder / "model.safetensors"))
        if mean and state.keys() != mean.keys():
            raise ValueError(f"{folder}: its tensors differ from {folders[0]}'s")
        for k, v in state.items():
            mean[k] = mean.get(k, 0) + w * v.float()
    model = DiffusionCoder(ModelConfig.from_dict(metas[0]))
    model.load_state_dict(mean)
    seen = [m["tokens_seen"] for m in metas if m.get("tokens_seen") is not None]
    save_model(model, out, tokenizer=folders[0] / "tokenizer.json", tokens_seen=max(seen, default=None))
    meta = json.loads((Path(out) / "config.json").read_text())
    meta["averaged_from"] = [{"folder": str(f), "weight": round(w, 6)} for f, w in zip(folders, weights)]
    (Path(out) / "config.json").write_text(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path, help="model folders (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights", default=None, help="comma-separated, one per folder, e.g. 0.7,0.3 (default: equal)")
    args = ap.parse_args(argv)
    try:
        weights = None if args.weights is None else [float(w) for w in args.weights.split(",")]
    except ValueError:
        raise SystemExit(f"average: --weights takes comma-separated numbers, one per folder (got {args.weights!r})")
    try:
        meta = average(args.folders, args.out, weights)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"average: {exc}")
    print(f"wrote {args.out}: mean of {len(args.folders)} folders, tokens_seen {meta.get('tokens_seen')}")


if __name__ == "__main__":
    main()
