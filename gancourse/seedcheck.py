"""Do the notebooks' claims hold on other seeds? ``python -m gancourse.seedcheck``.

Runs every notebook (or those named) top to bottom at a budget (quick by default) once per
seed offset (``GANCOURSE_SEED``, 0 to 4 by default) and records every ``assert`` it meets: the
two sides of each comparison, which side is the threshold, and the margin, that is how far the
measured value is from failing. A claim whose margin is thin on some seed needs a safer
threshold (or a sturdier experiment); one that fails on some seed is not yet a claim.

Nothing in the notebooks changes. Before the first cell, the run installs an IPython AST
transformer that rewrites each ``assert`` in the notebook's own code: the comparison is
evaluated once, its operands recorded, and a failing assert is recorded and passed over, so
that one failure does not hide the rest. Cells that raise are recorded too and the run goes
on. Writes, into ``--out``:

- ``records.jsonl``: one line per assert evaluation (notebook, seed, cell, line, source, the
  sides, the margin);
- ``margins.md``: one row per assert, its values over the seeds and its smallest margin;
- ``errors.json``: cells that raised, per notebook and seed.

``python -m gancourse.seedcheck --seeds 0-4 --out seedcheck-out`` (about 40 minutes on a 2-core
CPU at the quick budget; name notebooks by prefix, e.g. ``05 06``, to run only those).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
_RECORDS_ENV = "GANCOURSE_SEEDCHECK_RECORDS"
_CELL_ENV = "GANCOURSE_SEEDCHECK_CELL"

# --- inside the kernel: recording asserts ---------------------------------------------------

_OPS = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
# names that a threshold may be built from (a constant, math.log(4), config.budgeted(...))
_CONSTANT_NAMES = {"config", "math", "np", "numpy", "torch", "budgeted", "float", "int", "abs"}


def _is_constant_like(node: ast.AST) -> bool:
    """True when ``node`` holds no names but the ones thresholds are made of."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return names <= _CONSTANT_NAMES


def _as_floats(value: Any) -> list[float] | None:
    """The value as a list of floats, or None when it is not numeric."""
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        if hasattr(value, "tolist") and not isinstance(value, int | float):
            value = value.tolist()
        if isinstance(value, bool):
            return [float(value)]
        if isinstance(value, int | float):
            return [float(value)]
        if isinstance(value, list | tuple):
            flat: list[float] = []
            for item in value:
                inner = _as_floats(item)
                if inner is None:
                    return None
                flat.extend(inner)
            return flat
    except Exception:
        return None
    return None


def pair_margin(left: Any, op: str, right: Any) -> float | None:
    """How far ``left op right`` is from failing, in the units of the values: positive when it
    holds, negative when it does not; the worst element for arrays. None where no distance
    applies (==, is, in, non-numbers)."""
    a, b = _as_floats(left), _as_floats(right)
    if a is None or b is None or op not in ("<", "<=", ">", ">=") or not a or not b:
        return None
    if len(a) != len(b):
        if len(a) == 1:
            a = a * len(b)
        elif len(b) == 1:
            b = b * len(a)
        else:
            return None
    gaps = [(y - x) if op in ("<", "<=") else (x - y) for x, y in zip(a, b, strict=True)]
    return min(gaps)


def _short(value: Any) -> Any:
    """A JSON-friendly summary of an operand: a number, or a short list, or its repr."""
    floats = _as_floats(value)
    if floats is not None:
        if len(floats) == 1:
            return floats[0]
        return {"min": min(floats), "max": max(floats), "n": len(floats)}
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Recorder:
    """What the rewritten asserts call: evaluates, records one JSON line, returns the truth."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, entry: dict[str, Any]) -> None:
        entry["cell"] = int(os.environ.get(_CELL_ENV, "-1"))
        with open(self.path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def compare(self, where: str, source: str, operands: list[Any], spec: dict[str, Any]) -> bool:
        ops, threshold_side = spec["ops"], spec["threshold"]
        holds, pairs = True, []
        for i, op in enumerate(ops):
            left, right = operands[i], operands[i + 1]
            result = bool(_evaluate(left, op, right))
            margin = pair_margin(left, op, right)
            side = threshold_side[i]
            threshold = right if side == "right" else left
            measured = left if side == "right" else right
            scale = _as_floats(threshold)
            relative = (
                margin / abs(scale[0])
                if margin is not None and scale and len(scale) == 1 and scale[0] != 0
                else None
            )
            pairs.append(
                {
                    "op": op,
                    "measured": _short(measured),
                    "threshold": _short(threshold),
                    "threshold_side": side,
                    "margin": margin,
                    "relative_margin": relative,
                    "holds": result,
                }
            )
            holds = holds and result
            if not result:
                break  # a chained comparison stops at the first false pair, as Python's does
        self._write({"where": where, "source": source, "holds": holds, "pairs": pairs})
        return holds

    def truth(self, where: str, source: str, value: Any) -> bool:
        try:
            holds = bool(value.all()) if hasattr(value, "all") else bool(value)
        except Exception:
            holds = bool(value)
        self._write({"where": where, "source": source, "holds": holds, "pairs": []})
        return holds

    def conjunction(self, parts: Sequence[Callable[[], bool]]) -> bool:
        """``a and b and ...``: each part records itself; stop at the first false one."""
        return all(part() for part in parts)


def _evaluate(left: Any, op: str, right: Any) -> Any:
    import operator

    table = {
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
        "==": operator.eq,
        "!=": operator.ne,
        "is": operator.is_,
        "is not": operator.is_not,
        "in": lambda a, b: a in b,
        "not in": lambda a, b: a not in b,
    }
    result = table[op](left, right)
    return result.all() if hasattr(result, "all") and not isinstance(result, bool) else result


class AssertRewriter(ast.NodeTransformer):
    """``assert test, msg`` -> ``__gancourse_seedcheck__.<record>(...)``, evaluated once, never
    raising: the survey records a failure and goes on."""

    RECORDER = "__gancourse_seedcheck__"

    def __init__(self, source: str) -> None:
        self.source = source

    def _where(self, node: ast.AST, part: int | None) -> str:
        return f"line {node.lineno}" + ("" if part is None else f", part {part}")

    def _call(self, method: str, args: list[ast.expr]) -> ast.expr:
        function = ast.Attribute(ast.Name(self.RECORDER, ast.Load()), method, ast.Load())
        return ast.Call(function, args, [])

    def _record(self, test: ast.expr, node: ast.AST, part: int | None) -> ast.expr:
        where = ast.Constant(self._where(node, part))
        text = ast.Constant(ast.get_source_segment(self.source, test) or ast.unparse(test))
        if isinstance(test, ast.Compare) and all(type(op) in _OPS for op in test.ops):
            operands = [test.left, *test.comparators]
            sides = []
            for left, right in itertools.pairwise(operands):
                left_const, right_const = _is_constant_like(left), _is_constant_like(right)
                sides.append("left" if left_const and not right_const else "right")
            spec = {"ops": [_OPS[type(op)] for op in test.ops], "threshold": sides}
            return self._call(
                "compare",
                [
                    where,
                    text,
                    ast.List(operands, ast.Load()),
                    ast.parse(repr(spec), mode="eval").body,
                ],
            )
        return self._call("truth", [where, text, test])

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        test = node.test
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            parts = [
                ast.Lambda(
                    ast.arguments([], [], None, [], [], None, []),
                    self._record(value, node, index),
                )
                for index, value in enumerate(test.values)
            ]
            call = self._call("conjunction", [ast.List(parts, ast.Load())])
        else:
            call = self._record(test, node, None)
        return ast.copy_location(ast.Expr(call), node)


class _Transformer(ast.NodeTransformer):
    """The IPython AST transformer: rewrites every assert of a cell."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        source = os.environ.get("GANCOURSE_SEEDCHECK_SOURCE", "")
        rewritten = AssertRewriter(source).visit(node)
        return ast.fix_missing_locations(rewritten)


def install(records: str) -> None:
    """In a kernel: record every notebook assert into ``records`` (a JSON-lines file)."""
    from IPython import get_ipython

    shell = get_ipython()
    shell.user_ns[AssertRewriter.RECORDER] = Recorder(records)
    shell.ast_transformers.append(_Transformer())

    def remember_source(info: Any) -> None:
        # the cell's text, so records quote the assert as written
        os.environ["GANCOURSE_SEEDCHECK_SOURCE"] = info.raw_cell or ""

    shell.events.register("pre_run_cell", remember_source)


# --- outside: running notebooks -----------------------------------------------------------


def run_notebook(path: Path, seed: int, budget: str, records: Path, timeout: int) -> list[dict]:
    """Execute ``path`` with ``GANCOURSE_SEED=seed`` and the budget, recording its asserts into
    ``records``. Returns the cells that raised (index, error name, message)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    for index in reversed(code_cells):  # tell the recorder which cell runs (original numbering)
        marker = nbformat.v4.new_code_cell(f"import os; os.environ[{_CELL_ENV!r}] = '{index}'")
        notebook.cells.insert(index, marker)
    notebook.cells.insert(
        0,
        nbformat.v4.new_code_cell(
            f"import gancourse.seedcheck as _seedcheck\n_seedcheck.install({str(records)!r})"
        ),
    )
    env = {
        **os.environ,
        "GANCOURSE_SEED": str(seed),
        "GANCOURSE_BUDGET": budget,
        "MPLBACKEND": "Agg",
    }
    client = NotebookClient(
        notebook,
        timeout=timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=env)
    errors = []
    original = -1
    for cell in notebook.cells:
        source = cell.source
        if source.startswith("import os; os.environ["):
            original = int(source.rsplit("'", 2)[-2])
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(
                    {"cell": original, "error": output["ename"], "message": output["evalue"][:300]}
                )
    return errors


def _one(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    errors = run_notebook(
        Path(args.one), args.seed, args.budget, Path(args.records), args.cell_timeout
    )
    print(
        json.dumps({"errors": errors, "seconds": round(time.perf_counter() - started, 1)}),
        flush=True,
    )
    return 0


def _parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-")
            seeds.extend(range(int(low), int(high) + 1))
        else:
            seeds.append(int(part))
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"seeds must be non-negative, e.g. 0-4 or 0,3,7: {text!r}")
    return seeds


def _pick_notebooks(names: Sequence[str]) -> list[Path]:
    every = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return every
    chosen = [p for p in every if any(p.name.startswith(name) for name in names)]
    if len(chosen) < len(names):
        raise SystemExit(
            f"no notebook starts with one of {list(names)}: choose from "
            f"{', '.join(p.name for p in every)}"
        )
    return chosen


def summarise(records: list[dict]) -> list[dict]:
    """One row per assert (notebook, cell, line, part): the measured values and thresholds over
    the seeds, the smallest margin and how many seeds failed."""
    rows: dict[tuple, dict] = {}
    for record in records:
        key = (record["notebook"], record["cell"], record["where"])
        row = rows.setdefault(
            key,
            {
                "notebook": record["notebook"],
                "cell": record["cell"],
                "where": record["where"],
                "source": record["source"],
                "seeds": defaultdict(list),
                "failures": set(),
                "margins": [],
                "relative": [],
            },
        )
        row["seeds"][record["seed"]].append(record)
        if not record["holds"]:
            row["failures"].add(record["seed"])
        for pair in record["pairs"]:
            if pair["margin"] is not None:
                row["margins"].append(pair["margin"])
            if pair["relative_margin"] is not None:
                row["relative"].append(pair["relative_margin"])
    return sorted(rows.values(), key=lambda r: (r["notebook"], r["cell"], r["where"]))


def _value(pairs: list[dict], key: str) -> str:
    shown = []
    for pair in pairs:
        value = pair[key]
        if isinstance(value, float):
            shown.append(f"{value:.4g}")
        elif isinstance(value, dict):
            shown.append(f"[{value['min']:.3g}..{value['max']:.3g}]")
        else:
            shown.append(str(value))
    return " / ".join(shown)


def margins_table(rows: list[dict], seeds: Sequence[int]) -> str:
    """The markdown table of ``margins.md``."""
    lines = [
        "| notebook | cell | assert | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | threshold (closest seed) | smallest margin | relative | failed on |",
        "| --- | --- | --- | " + " | ".join("---" for _ in seeds) + " | --- | --- | --- | --- |",
    ]
    for row in rows:
        # the threshold shown is the one of the seed with the smallest margin (it may depend on
        # the seed, as in "a < 0.85 * b")
        cells, threshold, closest = [], "", math.inf
        for seed in seeds:
            records = row["seeds"].get(seed, [])
            if not records:
                cells.append("not run")
                continue
            worst = min(
                records,
                key=lambda r: min(
                    (p["margin"] for p in r["pairs"] if p["margin"] is not None),
                    default=math.inf,
                ),
            )
            mark = "" if all(r["holds"] for r in records) else " FAIL"
            cells.append((_value(worst["pairs"], "measured") or "true/false") + mark)
            worst_margin = min(
                (p["margin"] for p in worst["pairs"] if p["margin"] is not None), default=math.inf
            )
            if not threshold or worst_margin < closest:
                threshold = _value(worst["pairs"], "threshold") or threshold
                closest = worst_margin
        margin = f"{min(row['margins']):.4g}" if row["margins"] else ""
        relative = f"{min(row['relative']):.0%}" if row["relative"] else ""
        source = row["source"].replace("|", "\\|").replace("\n", " ")
        source = source if len(source) <= 90 else source[:87] + "..."
        failed = ", ".join(str(s) for s in sorted(row["failures"]))
        lines.append(
            f"| {row['notebook'][:2]} | {row['cell']} | `{source}` | "
            + " | ".join(cells)
            + f" | {threshold} | {margin} | {relative} | {failed} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gancourse.seedcheck",
        description="Run the notebooks over seeds and report every assert's margin.",
    )
    parser.add_argument("notebooks", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--seeds", type=_parse_seeds, default=_parse_seeds("0-4"))
    parser.add_argument("--budget", choices=("quick", "full"), default="quick")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="notebooks run at once (default 1: lessons 3, 5 and 6 use every core themselves)",
    )
    parser.add_argument("--out", type=Path, default=Path("seedcheck-out"))
    parser.add_argument("--cell-timeout", type=int, default=1200)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--records", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return _one(args)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    notebooks = _pick_notebooks(args.notebooks)
    args.out.mkdir(parents=True, exist_ok=True)
    parts = args.out / "parts"
    parts.mkdir(exist_ok=True)
    runs = [(path, seed) for seed in args.seeds for path in notebooks]
    # the slowest notebooks first, so that the jobs end together
    runs.sort(key=lambda run: -run[0].stat().st_size)
    print(
        f"{len(runs)} runs: {len(notebooks)} notebooks x seeds {args.seeds}, {args.jobs} at a time"
    )

    def execute(run: tuple[Path, int]) -> dict:
        path, seed = run
        records = parts / f"{path.stem}_seed{seed}.jsonl"
        records.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "gancourse.seedcheck",
            "--one",
            str(path),
            "--seed",
            str(seed),
            "--budget",
            args.budget,
            "--records",
            str(records.resolve()),
            "--cell-timeout",
            str(args.cell_timeout),
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        try:
            report = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            report = {
                "errors": [{"cell": -1, "error": "run failed", "message": done.stderr[-500:]}]
            }
        print(
            f"{path.name} seed {seed}: {seconds:.0f} s, {len(report['errors'])} cells raised",
            flush=True,
        )
        return {"notebook": path.name, "seed": seed, "seconds": round(seconds, 1), **report}

    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(execute, runs))
    records = []
    for path, seed in runs:
        part = parts / f"{path.stem}_seed{seed}.jsonl"
        if part.is_file():
            for line in part.read_text().splitlines():
                records.append({"notebook": path.name, "seed": seed, **json.loads(line)})
    (args.out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (args.out / "errors.json").write_text(json.dumps(outcomes, indent=2) + "\n")
    rows = summarise(records)
    (args.out / "margins.md").write_text(margins_table(rows, args.seeds))
    failing = [row for row in rows if row["failures"]]
    raised = [o for o in outcomes if o["errors"]]
    print(
        f"{len(rows)} asserts, {len(failing)} failed on some seed; {len(raised)} runs had "
        f"cells that raised. Table: {args.out / 'margins.md'}"
    )
    return 1 if failing or raised else 0


if __name__ == "__main__":
    sys.exit(main())
