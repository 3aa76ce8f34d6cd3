"""Trained generators that ship with the course, so that a trained model can be shown in seconds.

Each one was trained by a benchmark, ``python -m gancourse.bench NAME --budget full --seed S
--out DIR`` (which also writes DIR/generator.pt), and added with
``python -m gancourse.shipped add NAME DIR``: the generator's weights go to
gancourse/shipped/NAME.pt, and the benchmark's figures, its command, the machine and the file's
SHA-256 to gancourse/shipped/models.json. :func:`load` checks the checksum before it reads a
file, and the notebooks measure a loaded generator again and compare with the figures kept.
``python -m gancourse.shipped`` lists them; ``python -m gancourse.shipped check`` checks them.

Some benchmarks' figures ship too, for the lessons to plot (``benchmark_figures``): written
from a run's result.json by ``python -m gancourse.shipped add-figures DIR [DIR ...]`` (several
folders: one benchmark's runs on other seeds).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import conditional, config, infogan
from .data import mixture
from .evaluator import Evaluator
from .metrics import mode_coverage
from .nets import fast_layout, sample_generator
from .recipes import Recipe, models
from .record import BENCH_SAMPLES
from .toy2d import EVAL_SAMPLES

FOLDER = Path(__file__).with_name("shipped")
MANIFEST = FOLDER / "models.json"
GENERATOR_FORMAT = 1
# The benchmark figures kept beside a shipped generator (those its result.json has).
KEPT_FIGURES = (
    "frechet_ratio", "min_class_fraction", "inception_score", "plain_frechet_ratio",
    "modes_captured", "modes", "high_quality", "reverse_kl", "target", "data",
    "gan_training_digits", "evaluator_accuracy", "label_accuracy", "mapping_accuracy",
    "information_bound",
)  # fmt: skip
# Which figures a fresh measurement must give again, and how closely (relative for the Frechet
# ratio, absolute for the others). The same weights and noise give the same samples up to
# floating-point rounding; what can move the figures is an evaluator retrained on another
# machine or device. The tolerances cover that and stay far below the gaps the lessons teach
# (a factor of 4 in Frechet ratio, 25 modes against 0).
REMEASURED = {
    "frechet_ratio": 0.10, "modes_captured": 1, "high_quality": 0.02, "label_accuracy": 0.02,
    "mapping_accuracy": 0.02,
}  # fmt: skip


def save_generator(path: str | Path, generator: nn.Module, recipe: Recipe) -> Path:
    """Write ``generator``'s weights (on the CPU) and the recipe that builds it to ``path``."""
    state = {name: tensor.detach().cpu() for name, tensor in generator.state_dict().items()}
    payload = {"format": GENERATOR_FORMAT, "recipe": recipe.as_dict(), "generator": state}
    return config.save_atomically(payload, path)


def read_generator(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """The generator saved at ``path`` by :func:`save_generator`, rebuilt from its recipe, on
    ``device`` in the memory layout the lessons train in, in evaluation mode."""
    payload = config.load_saved(path, "gancourse generator")
    if payload.get("format") != GENERATOR_FORMAT:
        raise ValueError(f"{path} is not a gancourse generator (format {payload.get('format')!r})")
    generator = models(Recipe(**payload["recipe"]))[0]
    generator.load_state_dict(payload["generator"])
    return fast_layout(generator, config.device(device)).eval()


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as hexadecimal."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest() -> dict[str, dict[str, Any]]:
    """Every shipped generator: name -> what made it, its figures and its checksum."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def _entry(name: str) -> dict[str, Any]:
    shipped = manifest()
    if name not in shipped:
        choices = ", ".join(shipped) or "none yet"
        raise ValueError(f"no shipped generator is called {name!r}: choose one of {choices}")
    return shipped[name]


def verified_path(name: str) -> Path:
    """The file of shipped generator ``name``, after checking it against its SHA-256."""
    entry = _entry(name)
    path = FOLDER / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped generator {path} is missing: restore it with "
            f"`git checkout -- gancourse/shipped`, or train it yourself: {entry['command']}"
        )
    if file_sha256(path) != entry["sha256"]:
        raise config.DamagedFile(
            f"the shipped generator {path} does not match its checksum in {MANIFEST.name}: it "
            f"is damaged or was changed. Restore it with `git checkout -- gancourse/shipped`"
        )
    return path


# The figures that describe a shipped generator in one line.
SHOWN = (
    "frechet_ratio", "min_class_fraction", "label_accuracy", "mapping_accuracy",
    "modes_captured", "high_quality", "reverse_kl",
)  # fmt: skip


def describe(name: str) -> str:
    """One line on where shipped generator ``name`` comes from and what it scored."""
    entry = _entry(name)
    kept = entry["figures"]
    figures = ", ".join(f"{key} {kept[key]:.4g}" for key in SHOWN if key in kept)
    return (
        f"the shipped generator {name!r}: trained by `{entry['command']}` "
        f"({entry['steps']:,} steps in {entry['seconds']:.0f} s, {entry['device']} of "
        f"{entry['machine']}, torch {entry['torch']}); its figures then: {figures}"
    )


def load(name: str, device: torch.device | str | None = None) -> nn.Module:
    """Shipped generator ``name`` on ``device`` (the course's choice by default), checked
    against its checksum, in evaluation mode; prints where it comes from."""
    generator = read_generator(verified_path(name), config.device(device))
    print(f"loaded {describe(name)}")
    return generator


def measure_again(
    name: str, generator: nn.Module, evaluator: Evaluator | None = None
) -> dict[str, dict[str, float]]:
    """Shipped generator ``name``'s figures kept in the manifest ("then") beside the same
    figures measured now ("now") on the samples its benchmark measured: 10,000 from noise of
    seed + 1 (the benchmark's, whatever GANCOURSE_SEED is now; with the labels or codes it
    asked for), scored by the lesson's ``evaluator`` for digits and by VEEGAN's mode metrics
    on the first 2,500 for a 2D mixture; with each figure's ``tolerance`` (``REMEASURED``)."""
    entry = _entry(name)
    kept = entry["figures"]
    # the benchmark's own noise, whatever GANCOURSE_SEED says now: the same samples, so that
    # only the device's rounding or a retrained evaluator can move the figures
    noise_seed = entry["seed"] + entry.get("seed_offset", 0) + 1
    if "target" not in kept and evaluator is None:
        raise ValueError(f"{name!r} draws digits: pass the lesson's evaluator to measure it")
    if entry["benchmark"] == "cgan":
        now = conditional.measure(generator, evaluator, noise_seed, offset=False)
    elif entry["benchmark"] == "infogan":
        now = infogan.measure(generator, evaluator, noise_seed, offset=False)
    else:
        samples = sample_generator(generator, BENCH_SAMPLES, seed=noise_seed, offset=False)
        if "target" in kept:
            mix = mixture(kept["target"])
            points = samples[:EVAL_SAMPLES].numpy()
            now = mode_coverage(points, mix.means.numpy(), mix.std).as_dict()
        else:
            now = evaluator.evaluate(samples)
    return {
        key: {"then": kept[key], "now": float(now[key]), "tolerance": tolerance}
        for key, tolerance in REMEASURED.items()
        if key in kept
    }


def agrees(row: dict[str, float], key: str) -> bool:
    """Whether a figure of :func:`measure_again` is the one kept, within its tolerance."""
    gap = abs(row["now"] - row["then"])
    return gap <= row["tolerance"] * (row["then"] if key == "frechet_ratio" else 1)


def add(name: str, out: str | Path) -> dict[str, Any]:
    """Ship the generator a benchmark wrote to ``out`` (result.json and generator.pt) as
    ``name``: copy its weights into the package and record its figures and checksum."""
    out = Path(out)
    result_path, generator_path = out / "result.json", out / "generator.pt"
    for path in (result_path, generator_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"no {path.name} in {out}: run `python -m gancourse.bench NAME --budget full "
                f"--out {out}` with a benchmark that trains a generator"
            )
    result = json.loads(result_path.read_text())
    read_generator(generator_path)  # refuse a file that does not load before shipping it
    FOLDER.mkdir(exist_ok=True)
    shutil.copyfile(generator_path, FOLDER / f"{name}.pt")
    command = f"python -m gancourse.bench {result['name']} --budget {result['budget']}"
    entry = {
        "file": f"{name}.pt",
        "sha256": file_sha256(FOLDER / f"{name}.pt"),
        "benchmark": result["name"],
        "command": f"{command} --seed {result['seed']} --out DIR",
        "seed": result["seed"],
        "seed_offset": result.get("seed_offset", 0),
        "budget": result["budget"],
        "steps": result["steps"],
        "seconds": result["seconds"],
        "machine": result["machine"],
        "device": result["device"],
        "torch": result["torch"],
        "figures": {key: result[key] for key in KEPT_FIGURES if key in result},
    }
    shipped = {**manifest(), name: entry}
    MANIFEST.write_text(json.dumps(dict(sorted(shipped.items())), indent=2) + "\n")
    return entry


def benchmark_figures(name: str) -> dict[str, Any]:
    """The figures of a benchmark run shipped with the course (gancourse/shipped/NAME.json),
    for a lesson to plot: e.g. "dcgan-levers", the lever table of lesson 3."""
    path = FOLDER / f"{name}.json"
    if name == MANIFEST.stem or not path.is_file():
        kept = sorted(p.stem for p in FOLDER.glob("*.json") if p != MANIFEST)
        raise ValueError(f"no shipped benchmark figures called {name!r}: choose one of {kept}")
    return json.loads(path.read_text())


def _kept_result(out: str | Path) -> dict[str, Any]:
    """The result.json of the benchmark run in ``out``, without the recipes spelled out, with
    the command that made it and its date."""
    result_path = Path(out) / "result.json"
    result = json.loads(result_path.read_text())
    command = f"python -m gancourse.bench {result['name']} --budget {result['budget']}"
    made = datetime.date.fromtimestamp(result_path.stat().st_mtime).isoformat()
    result = {
        "name": result["name"],
        "command": f"{command} --seed {result['seed']} --out DIR",
        "date": result.get("date", made),
        **result,
    }

    def without_recipes(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: without_recipes(v) for k, v in value.items() if k not in ("recipe", "recipes")
            }
        return [without_recipes(v) for v in value] if isinstance(value, list) else value

    return without_recipes(result)


def add_figures(out: str | Path, *more: str | Path) -> Path:
    """Ship the figures of the benchmark run in ``out`` (:func:`_kept_result`) as
    gancourse/shipped/NAME.json, NAME being the benchmark's. With ``more`` folders (runs of the
    same benchmark on other seeds), the file holds them all: {"name", "seeds", "runs"}."""
    results = [_kept_result(folder) for folder in (out, *more)]
    name = results[0]["name"]
    if any(result["name"] != name for result in results):
        raise ValueError(f"the folders hold runs of different benchmarks: "
                         f"{', '.join(r['name'] for r in results)}")  # fmt: skip
    kept = results[0] if not more else {
        "name": name, "seeds": [r["seed"] for r in results], "runs": results
    }  # fmt: skip
    path = FOLDER / f"{name}.json"
    path.write_text(json.dumps(kept, indent=2) + "\n")
    return path


def check() -> list[str]:
    """Check every shipped generator's file against its checksum; the names checked."""
    for name in manifest():
        verified_path(name)
    return list(manifest())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gancourse.shipped", description="The course's trained generators."
    )
    parser.add_argument(
        "action", nargs="?", choices=("list", "check", "add", "add-figures"), default="list"
    )
    parser.add_argument("name", nargs="?", help="add: the name to ship the generator as")
    parser.add_argument("out", nargs="*", type=Path, help="add: the benchmark's --out folder; "
                        "add-figures: more runs' folders, of other seeds")  # fmt: skip
    args = parser.parse_args(argv)
    if args.action == "add":
        if args.name is None or len(args.out) != 1:
            parser.error("add takes a NAME and the benchmark's --out folder")
        entry = add(args.name, args.out[0])
        print(json.dumps(entry, indent=2))
    elif args.action == "add-figures":
        if args.name is None:
            parser.error("add-figures takes the benchmark's --out folder")
        print(f"wrote {add_figures(args.name, *args.out)}")
    elif args.action == "check":
        print(f"checked against their SHA-256: {', '.join(check()) or 'nothing shipped'}")
    else:
        for name in manifest():
            print(describe(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
