"""HumanEval-Infilling problems (openai/human-eval-infilling, MIT): finding the folder and reading it.

Each record holds task_id, entry_point, prompt (the code before the span), suffix (the code after
it), canonical_solution (the span: whole lines, with their indentation and trailing newline) and test.
"""
from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

SUBSET_FILES = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl",
}
DEFAULT_DATA = Path("shared") / "data" / "human-eval-infilling"


class DataNotFound(FileNotFoundError):
    """The benchmark's files are not where we looked: the message says where and what to pass."""


@dataclass(frozen=True)
class Problem:
    task_id: str
    entry_point: str
    prompt: str
    suffix: str
    canonical_solution: str
    test: str


def find_data_dir(explicit: str | Path | None = None, *, start: Path | None = None) -> Path:
    """`explicit` if given; else the first `shared/data/human-eval-infilling` found walking up from the
    working directory, then from this package's location (the repo keeps it in ../shared)."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise DataNotFound(f"--data {path}: no such folder")
        return path
    starts = [start or Path.cwd(), Path(__file__).resolve().parent]
    for origin in starts:
        for folder in [origin, *origin.resolve().parents]:
            candidate = folder / DEFAULT_DATA
            if candidate.is_dir():
                return candidate
    raise DataNotFound(
        f"no {DEFAULT_DATA} folder above {', '.join(str(s) for s in starts)}; pass --data DIR pointing at a copy "
        "of openai/human-eval-infilling's data (HumanEval-SingleLineInfilling.jsonl.gz, …)")


def subset_file(data_dir: Path, subset: str) -> Path:
    if subset not in SUBSET_FILES:
        raise ValueError(f"unknown subset {subset!r}; expected one of {', '.join(SUBSET_FILES)}")
    stem = SUBSET_FILES[subset]
    for name in (stem + ".gz", stem):
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataNotFound(f"{data_dir} holds neither {stem}.gz nor {stem}")


def load_problems(data_dir: Path, subset: str, limit: int | None = None, *,
                  spread: bool = False) -> list[Problem]:
    """The subset's problems in file order. `limit` keeps the first N (a prefix, as upstream harnesses
    do), or with `spread` N evenly spaced over the whole file, so that a short run covers every kind of
    HumanEval task instead of the first few functions' lines."""
    path = subset_file(data_dir, subset)
    opener = gzip.open if path.suffix == ".gz" else open
    problems: list[Problem] = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                problems.append(Problem(**{k: rec[k] for k in Problem.__dataclass_fields__}))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{line_no}: not a HumanEval-Infilling record ({exc})") from exc
            if limit is not None and not spread and len(problems) >= limit:
                break
    if limit is not None and spread and limit < len(problems):
        step = len(problems) / max(limit, 1)
        problems = [problems[int(i * step)] for i in range(max(limit, 0))]
    return problems


TYPED = {"indent": re.compile(r"[ \t]*"), "word": re.compile(r"[ \t]*\S+[ \t]")}


def typed_problems(problems: list[Problem], upto: str = "word") -> list[Problem]:
    """The cursor mid-line, as an editor sends it while the user types: each single-line span's
    indentation (`indent`: the cursor after auto-indent) or indentation and first word with the space
    after it (`word`: `    return `) move into the prompt and the rest of the line is the span.
    Spans with nothing left to fill, or nothing typed, are dropped."""
    out = []
    for p in problems:
        m = TYPED[upto].match(p.canonical_solution)
        if m and m.end() and "\n" not in m.group(0) and p.canonical_solution[m.end():].strip():
            out.append(replace(p, prompt=p.prompt + m.group(0), canonical_solution=p.canonical_solution[m.end():]))
    return out


def check_program(problem: Problem, completion: str) -> str:
    """The program that decides a completion, as upstream builds it: prompt + middle + suffix + tests."""
    return f"{problem.prompt}{completion}{problem.suffix}\n{problem.test}\ncheck({problem.entry_point})\n"
