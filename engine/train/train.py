"""Train the embedded model (masked diffusion) or the autoregressive FIM baseline.

    python -m engine.train.train --config engine/train/configs/embedded.json --out runs/embedded
    python -m engine.train.train --config engine/train/configs/embedded.json --out runs/embedded  # resumes

Objective (diffusion): per example t ~ U(0,1) (stratified across the batch); each canvas token is
masked with probability t and predicted with weight 1/t (MDLM, Sahoo et al. 2024; LLaDA, Nie et al.
2025); context streams add next-token prediction at `aux_weight`. `causal_ar` in the model config
trains the same network as a PSM fill-in-the-middle LM (Bavarian et al. 2022) for the baseline.

Checkpoints (model, optimizer, step, RNG) are safetensors + JSON in `--out`, written every
`checkpoint_minutes`; a run restarted with the same `--out` resumes. `log.jsonl` holds the
learning curve (tokens seen, train loss, validation loss).

Warm starts: `--init FOLDER` starts from a model folder's weights (a fresh optimizer) or a run's
`ckpt/` (its AdamW state too). A config with more layers than the folder's model names, in
`grow_from`, the old layer each new one starts as; repeats begin with zero residual branches, so
the grown model computes what the old one did, and `grown_lr_scale` slows the trained weights.

Languages: `languages` in the config (`{"python": 0.7, "javascript": 0.2, "typescript": 0.1}`) draws
each example's language in those shares, then a file of it, and logs a held-out infill loss per
language (`valid_infill_loss_<language>`); a run resumed under another config keeps its checkpoint
and takes the new shares and schedule from the step it is at.

Devices and number formats: `--device cpu|cuda`, `--precision float32|bf16-mixed` (bfloat16
autocast around the step; weights, optimizer and validation stay float32; on a CPU without native
bf16 the run says so and trains in float32, many times faster there), `"compile": true` in
the config for torch.compile of the loss (a compile that fails is reported and the run goes on
without it). On CUDA AdamW is the fused kernel.

A GPU outruns one process's batches: `loader_workers` > 0 makes them in DataLoader processes
(batch k from `step_rng(seed, k)`, the same batches whatever the number of workers, and the
resumed run's next batch is the one where it stopped; one width per batch under compile; the
attention mask is built on the device). `time_budget_minutes` anneals the rate over wall-clock
minutes rather than steps and stops the run when they are spent, for a lease of fixed length
(`scripts/device_train.sh`, `configs/gpu_d384.json`).
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from engine.backends.base import cpu_has_native_bf16
from engine.model import DiffusionCoder, ModelConfig, save_model
from engine.train.data import ExampleMaker, Mixture, StepBatches, load_texts


PRECISIONS = ("float32", "bf16-mixed")


@dataclass
class TrainConfig:
    model: dict = field(default_factory=dict)
    corpus: str = "runs/corpus"
    tokenizer: str = "runs/tokenizer.json"
    seed: int = 0
    batch_size: int = 16
    seq_len: int = 640
    prefix_tokens: int = 448
    suffix_tokens: int = 160
    aux_weight: float = 0.5
    aux_fraction: float = 1.0  # share of stream positions with a next-token target
    lr: float = 2e-3
    min_lr_frac: float = 0.1
    warmup_steps: int = 100
    max_steps: int = 4000
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 200
    eval_batches: int = 8
    checkpoint_minutes: float = 5.0
    threads: int = 0  # 0 = torch default
    device: str = "cpu"
    compile: bool = False
    precision: str = "float32"  # or "bf16-mixed": matmuls under bfloat16 autocast, weights and optimizer in float32
    # --init from a shallower model: per layer of this model, the --init layer it starts as (`grow`)
    grow_from: list[int] | None = None
    # with grow_from: the learning rate of every weight but the new layers', as a share of `lr` (the
    # trained ones need less; a fresh optimizer at the full rate knocked a trained model back 0.2 nats)
    grown_lr_scale: float = 1.0
    # share of the training draws per language (e.g. {"python": 0.6, "javascript": 0.25, ...}); each
    # is also validated on its own. None: every training file equally likely, whatever its language
    languages: dict[str, float] | None = None
    # processes that make training batches ahead of the step (a GPU step outruns one process's
    # batches). 0: made in the training process, from the checkpointed generator; > 0: batch k
    # is made from `step_rng(seed, k)`, so the batches do not depend on the number of workers
    loader_workers: int = 0
    # each training row's canvases this many times, at spread noise levels (ExampleMaker); validation
    # always uses one copy, so its losses stay comparable
    canvas_copies: int = 1
    # a wall-clock budget: the cosine schedule runs over this many minutes of training (after the
    # warm-up steps) instead of over max_steps, and training stops when it is spent (max_steps
    # still caps it). For a run on a borrowed machine whose speed is not known ahead
    time_budget_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")

    @classmethod
    def load(cls, path: Path, **overrides) -> "TrainConfig":
        d = json.loads(Path(path).read_text()) if path else {}
        d.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**d)


def grow(state: dict[str, torch.Tensor], grow_from: list[int]) -> dict[str, torch.Tensor]:
    """A shallower model's weights (`state`) as a deeper one's, computing the same function: layer
    k of the new model starts as layer `grow_from[k]` of the old; a layer that repeats an earlier
    copy of its source starts with its attention output and MLP down projections at zero, so that
    its residual branches add nothing until training moves them (block expansion, as in LLaMA Pro,
    Wu et al. 2024). Every old layer must appear, in order."""
    old = sorted({layer for k in state if (layer := _layer_of(k)) is not None})
    if sorted(set(grow_from)) != old or grow_from != sorted(grow_from):
        raise SystemExit(f"grow_from {grow_from}: must list each of the --init model's layers {old}, in order")
    out = {k: v for k, v in state.items() if not k.startswith("blocks.")}
    added = _new_layers(grow_from)
    for new, src in enumerate(grow_from):
        prefix = f"blocks.{src}."
        for k, v in state.items():
            if k.startswith(prefix):
                name = k[len(prefix):]
                zero = new in added and name in ("out.weight", "down.weight")
                out[f"blocks.{new}.{name}"] = torch.zeros_like(v) if zero else v.clone()
    return out


def _layer_of(name: str) -> int | None:
    return int(name.split(".")[1]) if name.startswith("blocks.") else None


def _new_layers(grow_from: list[int] | None) -> set[int]:
    """The layers `grow` adds (repeats of a source layer), which start with zero residual branches."""
    return {k for k, src in enumerate(grow_from or []) if src in grow_from[:k]}


def lr_at(step: int, cfg: TrainConfig, elapsed_s: float = 0.0, warm_s: float = 0.0) -> float:
    """Linear warm-up over `warmup_steps`, then cosine to `min_lr_frac` of the peak over the steps
    to `max_steps`, or, with `time_budget_minutes`, over the seconds from the warm-up's end
    (`warm_s` elapsed then) to the budget (`elapsed_s`: training seconds so far)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.time_budget_minutes:
        frac = min(1.0, max(0.0, elapsed_s - warm_s) / max(1.0, cfg.time_budget_minutes * 60 - warm_s))
    else:
        frac = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))


def autocast(cfg: TrainConfig):
    """The training step's number format: bfloat16 autocast for "bf16-mixed" (about 1.6x faster per
    step on an AVX512-BF16 CPU; the usual choice on CUDA; `train` falls back to float32 on a CPU
    without native bf16), else a no-op context.
    Validation always runs in float32 so that its losses stay comparable across runs."""
    return torch.autocast(device_type=torch.device(cfg.device).type, dtype=torch.bfloat16,
                          enabled=cfg.precision == "bf16-mixed")


def _target_ce(model: DiffusionCoder, batch, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy at every position with a target (only those pay for the output projection),
    with each one's loss weight and whether it is a canvas position."""
    sel = batch.targets != -100
    nb = torch.device(device).type == "cuda"  # a pinned batch's copies overlap the work before them
    h = model(batch.ids.to(device, non_blocking=nb), batch.pos.to(device, non_blocking=nb),
              batch.kind.to(device, non_blocking=nb), batch.attention_mask(device))
    logits = model.logits(h[sel.to(device)])
    ce = F.cross_entropy(logits.float(), batch.targets[sel].to(device), reduction="none")
    return ce, batch.weights[sel].to(device), (batch.kind[sel] == 1).to(device)


def _weighted(ce: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (ce * weights).sum() / max(1, ce.numel())


def loss_fn(model: DiffusionCoder, batch, device: str) -> torch.Tensor:
    ce, weights, _ = _target_ce(model, batch, device)
    return _weighted(ce, weights)


def save_checkpoint(out: Path, model, opt, step: int, tokens: int, rng: random.Random,
                    clock: dict[str, float] | None = None) -> None:
    from safetensors.torch import save_file

    tmp = out / "ckpt.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
    names = {p: n for n, p in model.named_parameters()}
    opt_tensors = {}
    for p, st in opt.state.items():
        for key in ("exp_avg", "exp_avg_sq"):
            opt_tensors[f"{names[p]}::{key}"] = st[key].detach().cpu().contiguous()
        opt_tensors[f"{names[p]}::step"] = st["step"].detach().cpu().reshape(1).float()
    save_file(opt_tensors, str(tmp / "optim.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"step": step, "tokens": tokens, "rng": repr(rng.getstate()),
                                                "torch_rng": torch.get_rng_state().tolist(), **(clock or {})}))
    (tmp / "config.json").write_text(json.dumps(model.cfg.to_dict(), indent=1))
    final = out / "ckpt"
    if final.exists():
        old = out / "ckpt.old"
        if old.exists():
            for f in old.iterdir():
                f.unlink()
            old.rmdir()
        final.rename(old)
    tmp.rename(final)


def load_optimizer(ck: Path, model, opt) -> None:
    """AdamW's moments and step counts from a checkpoint folder's optim.safetensors."""
    from safetensors.torch import load_file

    opt_tensors = load_file(str(ck / "optim.safetensors"))
    for n, p in model.named_parameters():
        if f"{n}::exp_avg" in opt_tensors:
            # the fused CUDA AdamW keeps its step counts on the parameters' device, the others on the CPU
            on = p.device if opt.defaults.get("fused") else "cpu"
            opt.state[p] = {"exp_avg": opt_tensors[f"{n}::exp_avg"].to(p.device),
                            "exp_avg_sq": opt_tensors[f"{n}::exp_avg_sq"].to(p.device),
                            "step": opt_tensors[f"{n}::step"].reshape(()).clone().to(on)}


def load_checkpoint(out: Path, model, opt) -> tuple[int, int, random.Random | None]:
    from safetensors.torch import load_file

    ck = out / "ckpt"
    if not (ck / "state.json").exists():
        return 0, 0, None
    model.load_state_dict(load_file(str(ck / "model.safetensors")))
    load_optimizer(ck, model, opt)
    state = json.loads((ck / "state.json").read_text())
    rng = random.Random()
    import ast

    rng.setstate(ast.literal_eval(state["rng"]))
    torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
    return state["step"], state["tokens"], rng


@torch.no_grad()
def validate(model, maker: ExampleMaker, texts: list[str], cfg: TrainConfig,
             cache: dict | None = None) -> tuple[float, float]:
    """(training loss, infill loss) on the same held-out batches every time. The training loss is
    mostly the streams' next-token loss; the infill loss is nats per masked canvas token. `cache`
    (a dict the caller keeps) holds the batches between calls: making them costs more than a GPU
    takes to score them."""
    import copy

    model.eval()
    key = (id(texts), cfg.eval_batches, cfg.batch_size)
    batches = (cache or {}).get(key)
    if batches is None:
        rng = random.Random(12345)  # the same validation batches every time
        maker = copy.copy(maker)
        maker.aux_fraction = 1.0  # validation losses stay comparable across runs whatever the training share
        maker.with_mask = False  # built where the batch is scored, from its `sid`
        maker.canvas_copies = 1
        batches = [maker.batch(texts, rng, cfg.batch_size) for _ in range(cfg.eval_batches)]
        if cache is not None:
            cache[key] = batches
    losses, ce_sum, n = [], 0.0, 0
    for batch in batches:
        ce, weights, canvas = _target_ce(model, batch, cfg.device)
        losses.append(_weighted(ce, weights).item())  # the training loss
        ce_sum, n = ce_sum + ce[canvas].sum().item(), n + int(canvas.sum())  # masked canvas positions only
    model.train()
    return sum(losses) / len(losses), ce_sum / max(1, n)


def _log_from(path: Path, step: int) -> Path:
    """Drop log rows past `step`: a run stopped between checkpoints logged steps it now repeats."""
    if path.exists():
        rows = path.read_text().splitlines(keepends=True)
        kept = [r for r in rows if r.strip() and json.loads(r).get("step", 0) <= step]
        if len(kept) != len(rows):
            path.write_text("".join(kept))
    return path


def train(cfg: TrainConfig, out: Path, max_minutes: float | None = None, log=print, init: Path | None = None,
          init_tokens: int | None = None) -> dict:
    from tokenizers import Tokenizer

    out.mkdir(parents=True, exist_ok=True)
    if cfg.precision == "bf16-mixed" and torch.device(cfg.device).type == "cpu" and not cpu_has_native_bf16():
        log("precision bf16-mixed: this CPU has no native bfloat16 (AVX512-BF16 or AMX), where a bf16 "
            "training step runs ~17x slower than float32 (BENCHMARKS.md, session 18); training in float32")
        cfg.precision = "float32"
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    mcfg = ModelConfig.from_dict(cfg.model)
    tok = Tokenizer.from_file(cfg.tokenizer)
    mcfg.vocab_size = tok.get_vocab_size()
    model = DiffusionCoder(mcfg).to(cfg.device)
    new = _new_layers(cfg.grow_from)  # a grown model's added layers learn at the full rate
    trained_scale = cfg.grown_lr_scale if cfg.grow_from else 1.0
    by_rate: dict[tuple[float, bool], list[torch.nn.Parameter]] = {}  # (lr scale, decays) -> params
    for n, p in model.named_parameters():
        by_rate.setdefault((1.0 if _layer_of(n) in new else trained_scale, p.dim() >= 2), []).append(p)
    groups = [{"params": ps, "weight_decay": cfg.weight_decay if decays else 0.0, "lr_scale": scale}
              for (scale, decays), ps in by_rate.items()]
    cuda = torch.device(cfg.device).type == "cuda"
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), **({"fused": True} if cuda else {}))
    step, tokens, rng = load_checkpoint(out, model, opt)
    # training seconds before this process (the time budget's clock) and where the warm-up ended
    clock = {k: v for k, v in json.loads((out / "ckpt" / "state.json").read_text()).items()
             if k in ("elapsed_s", "warm_s")} if step else {}
    if not step and init is not None:  # warm start: shipped weights (a new optimizer) or a run's ckpt/
        from safetensors.torch import load_file

        init_tok = Path(init) / "tokenizer.json"
        if init_tok.exists() and Tokenizer.from_file(str(init_tok)).get_vocab() != tok.get_vocab():
            raise SystemExit(f"--init {init}: its tokenizer.json differs from the config's tokenizer "
                             f"{cfg.tokenizer}; the weights' token ids would mean other tokens "
                             f"(copy {init_tok} to {cfg.tokenizer})")

        state = {k: v.float() for k, v in load_file(str(Path(init) / "model.safetensors")).items()}
        if cfg.grow_from:
            if len(cfg.grow_from) != mcfg.n_layers:
                raise SystemExit(f"grow_from names {len(cfg.grow_from)} layers; the model has {mcfg.n_layers}")
            state = grow(state, cfg.grow_from)
            log(f"grown to {mcfg.n_layers} layers from {init}'s (layers {cfg.grow_from})")
        model.load_state_dict(state)
        if init_tokens is None and (Path(init) / "state.json").exists():  # a run's checkpoint
            init_tokens = json.loads((Path(init) / "state.json").read_text())["tokens"]
        if init_tokens is None:
            init_tokens = json.loads((Path(init) / "config.json").read_text()).get("tokens_seen", 0)
        tokens = int(init_tokens)
        if (Path(init) / "optim.safetensors").exists() and not cfg.grow_from:  # a run's checkpoint: keep its moments
            load_optimizer(Path(init), model, opt)
        log(f"initialised from {init} ({tokens} tokens seen before"
            f"{', optimizer state kept' if opt.state else ''})")
    rng = rng or random.Random(cfg.seed)
    if step:
        log(f"resumed from {out / 'ckpt'} at step {step} ({tokens} tokens)")
    (out / "train_config.json").write_text(json.dumps(cfg.__dict__, indent=1))
    corpus = Path(cfg.corpus)
    if cfg.languages:
        train_texts = Mixture({lang: load_texts(corpus / "train.jsonl.gz", language=lang) for lang in cfg.languages},
                              cfg.languages)
        valid_by_language = {lang: load_texts(corpus / "valid.jsonl.gz", language=lang) for lang in cfg.languages}
        valid_by_language = {lang: texts for lang, texts in valid_by_language.items() if texts}
    else:
        train_texts = load_texts(corpus / "train.jsonl.gz")
        valid_by_language = {}
    valid_texts = load_texts(corpus / "valid.jsonl.gz")
    maker = ExampleMaker(mcfg, tok, cfg.seq_len, cfg.prefix_tokens, cfg.suffix_tokens, cfg.aux_weight,
                          cfg.aux_fraction, canvas_copies=cfg.canvas_copies)
    loader = made = None
    if cfg.loader_workers:
        import copy
        import os

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the workers are the parallelism
        work = copy.copy(maker)  # same examples; one shape per batch for compile, the mask made on the device
        work.fixed_len, work.with_mask = cfg.compile, False
        made = StepBatches(work, train_texts, cfg.seed, cfg.batch_size)
        loader = iter(torch.utils.data.DataLoader(
            made, batch_size=None, sampler=range(step, cfg.max_steps), num_workers=cfg.loader_workers,
            pin_memory=cuda, prefetch_factor=2))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters, {'AR' if mcfg.causal_ar else 'diffusion'}; "
        f"{len(train_texts)} train / {len(valid_texts)} valid files")
    step_fn = torch.compile(loss_fn) if cfg.compile else loss_fn
    try:
        from tqdm import tqdm

        # under a time budget the steps to come are not known: the bar counts them and says the minutes left
        bar = tqdm(total=None if cfg.time_budget_minutes else cfg.max_steps, initial=step, file=sys.stderr,
                   dynamic_ncols=True, mininterval=5)
    except ImportError:  # pragma: no cover
        bar = None
    valid_cache: dict = {}  # the validation batches, made once
    start = last_ckpt = time.time()
    before = clock.get("elapsed_s", 0.0)
    window_tokens, window_t = 0, time.time()
    logf = open(_log_from(out / "log.jsonl", step), "a")
    model.train()
    while step < cfg.max_steps:
        batch = None
        if loader is not None:
            try:
                batch = next(loader)
            except RuntimeError as exc:  # a worker killed (too little shared memory, say): the same batches, made here
                log(f"batch loader failed ({str(exc)[:300]}); batches are made in this process from now on")
                loader = None
        if batch is None:
            batch = made[step] if made is not None else maker.batch(train_texts, rng, cfg.batch_size)
        clock["elapsed_s"] = before + time.time() - start
        if step >= cfg.warmup_steps:
            clock.setdefault("warm_s", clock["elapsed_s"])
        lr = lr_at(step, cfg, clock["elapsed_s"], clock.get("warm_s", 0.0))
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        try:
            with autocast(cfg):
                loss = step_fn(model, batch, cfg.device)
        except Exception as exc:  # torch.compile is optional: a backend that cannot compile must not end the run
            if step_fn is loss_fn:
                raise
            log(f"torch.compile failed ({type(exc).__name__}: {str(exc)[:300]}); training goes on without it")
            step_fn = loss_fn
            with autocast(cfg):
                loss = step_fn(model, batch, cfg.device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        tokens += batch.n_tokens
        window_tokens += batch.n_tokens
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                shown = {"loss": f"{loss.item():.3f}", "tok_s": f"{window_tokens / (time.time() - window_t):.0f}"}
                if cfg.time_budget_minutes:
                    shown["left"] = f"{max(0.0, cfg.time_budget_minutes - clock['elapsed_s'] / 60):.1f}m"
                bar.set_postfix(shown)
                window_tokens, window_t = 0, time.time()
        record = {"step": step, "tokens": tokens, "loss": round(loss.item(), 4), "lr": lr,
                  "elapsed_s": round(before + time.time() - start, 1)}
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            total, infill = validate(model, maker, valid_texts, cfg, valid_cache)
            record["valid_loss"], record["valid_infill_loss"] = round(total, 4), round(infill, 4)
            said = ""
            for lang, texts in valid_by_language.items():
                record[f"valid_infill_loss_{lang}"] = round(validate(model, maker, texts, cfg, valid_cache)[1], 4)
                said += f" {lang} {record[f'valid_infill_loss_{lang}']:.3f}"
            log(f"step {step}: tokens {tokens} train {loss.item():.3f} valid {total:.3f} (infill {infill:.3f}{said})")
        logf.write(json.dumps(record) + "\n")
        logf.flush()
        clock["elapsed_s"] = before + time.time() - start
        if time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
            save_checkpoint(out, model, opt, step, tokens, rng, clock)
            save_model(model, out / f"snapshot-{tokens // 100_000:05d}00k", tokenizer=Path(cfg.tokenizer),
                       tokens_seen=tokens)  # for the learning curve
            last_ckpt = time.time()
        if max_minutes is not None and time.time() - start > max_minutes * 60:
            break
        if cfg.time_budget_minutes and clock["elapsed_s"] >= cfg.time_budget_minutes * 60:
            log(f"time budget of {cfg.time_budget_minutes:g} min spent at step {step} ({tokens} tokens)")
            break
    save_checkpoint(out, model, opt, step, tokens, rng, clock)
    save_model(model, out / "final", tokenizer=Path(cfg.tokenizer), tokens_seen=tokens)
    if bar is not None:
        bar.close()
    return {"step": step, "tokens": tokens, "loss": loss.item()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    ap.add_argument("--device", default=None)
    ap.add_argument("--precision", choices=PRECISIONS, default=None,
                    help="float32, or bf16-mixed (bfloat16 autocast; weights and optimizer stay float32)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from this model folder's weights (e.g. engine/weights) when --out has no checkpoint; "
                         "a run's ckpt/ folder also gives its optimizer state and tokens seen")
    ap.add_argument("--init-tokens", type=int, default=None,
                    help="tokens seen by the --init weights (default: a ckpt/'s state.json, else its config.json's "
                         "tokens_seen, else 0)")
    args = ap.parse_args(argv)
    cfg = TrainConfig.load(args.config, max_steps=args.max_steps, device=args.device,
                           precision=args.precision)
    print(json.dumps(train(cfg, args.out, args.max_minutes, init=args.init, init_tokens=args.init_tokens)))


if __name__ == "__main__":
    main()
