"""Long fuzzing campaign over pydeca's parsers (the CI suite runs a few hundred examples each).

Uses the strategies, seeds and guards of ``tests/test_fuzz_parsers.py`` but does not stop at the
first finding: every example is classified (valid result, PydecaError, crash, slow) and each
distinct crash — exception type plus the innermost pydeca frame — is kept with its shortest input.
Each parser runs in a forked child, so a parser that kills the interpreter is reported (with the
input it was parsing) and the campaign goes on with the next parser.

Usage::

    .venv/bin/python benchmarks/fuzz_long.py --examples 20000 --parser safe_pickle --parser image
    .venv/bin/python benchmarks/fuzz_long.py --examples 2000            # every parser
    .venv/bin/python benchmarks/fuzz_long.py --seed 7 --examples 5000   # another random stream

Exit status: 0 when no parser crashed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import test_fuzz_parsers as fuzz  # noqa: E402

SLOW_SECONDS = 2.0
"""An example parsed more slowly than this is counted as slow (the CI deadline)."""


def _where(exc: BaseException) -> str:
    """``file:line`` of the innermost traceback frame inside ``src/pydeca`` (else the innermost)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/pydeca/" in f.filename] or frames
    frame = ours[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def campaign(name: str, examples: int, random_seed: int, workdir: Path) -> dict[str, Any]:
    """Run ``examples`` inputs through one parser; counts, crash kinds with shortest inputs, timings."""
    target = fuzz.TARGETS[name]
    counts: Counter[str] = Counter()
    crashes: dict[str, dict[str, Any]] = {}
    slowest = 0.0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @seed(random_seed)
    @given(data=st.deferred(target.strategy))
    def run(data: bytes) -> None:
        nonlocal slowest
        start = time.perf_counter()
        try:
            refused = fuzz.check_bytes(target, data, workdir)
            counts["refused (PydecaError)" if refused is not None else "valid result"] += 1
        except Exception as exc:
            counts["crash"] += 1
            key = f"{type(exc).__name__} at {_where(exc)}"
            known = crashes.get(key)
            if known is None or len(data) < len(known["input"]):
                crashes[key] = {"input": repr(data), "length": len(data), "message": str(exc)[:200]}
            crashes[key]["count"] = (known or {}).get("count", 0) + 1
        elapsed = time.perf_counter() - start
        slowest = max(slowest, elapsed)
        if elapsed > SLOW_SECONDS:
            counts["slow"] += 1

    t0 = time.perf_counter()
    with warnings.catch_warnings():  # parsers warn about what they refuse or repair; counted, not printed
        warnings.simplefilter("ignore")
        run()
    return {
        "examples": sum(v for k, v in counts.items() if k != "slow"),
        "counts": dict(counts),
        "crashes": crashes,
        "seconds": round(time.perf_counter() - t0, 1),
        "slowest_example_s": round(slowest, 3),
    }


def run_in_child(name: str, examples: int, random_seed: int) -> dict[str, Any]:
    """:func:`campaign` in a forked child; a child killed by a signal is reported as a crash."""
    workdir = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            result = campaign(name, examples, random_seed, workdir)
        except BaseException as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write_end, "w") as pipe:
            json.dump(result, pipe)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        last = workdir / f"input{fuzz.TARGETS[name].suffix}"
        data = last.read_bytes() if last.is_file() else b""
        return {
            "examples": None,
            "counts": {"crash": 1},
            "crashes": {
                f"killed by signal {os.WTERMSIG(status)}": {"input": repr(data)[:2000], "length": len(data)}
            },
        }
    return json.loads(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per parser (default 2000)")
    parser.add_argument(
        "--parser",
        action="append",
        choices=sorted(fuzz.TARGETS),
        help="parser to fuzz (repeatable; default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the campaign (default 0)")
    parser.add_argument("--json", type=Path, help="also write the full results to this file")
    args = parser.parse_args(argv)
    names = args.parser or list(fuzz.TARGETS)
    results: dict[str, Any] = {}
    print(
        f"{'parser':<20} {'examples':>8} {'valid':>7} {'refused':>8} {'crashes':>8} {'slow':>5} {'time s':>7}"
    )
    for name in names:
        result = run_in_child(name, args.examples, args.seed)
        results[name] = result
        counts = result.get("counts", {})
        print(
            f"{name:<20} {result.get('examples') or '?':>8} {counts.get('valid result', 0):>7} "
            f"{counts.get('refused (PydecaError)', 0):>8} {counts.get('crash', 0):>8} "
            f"{counts.get('slow', 0):>5} {result.get('seconds', '?'):>7}",
            flush=True,
        )
        if "error" in result:
            print(f"  campaign error: {result['error']}")
        for kind, crash in result.get("crashes", {}).items():
            print(f"  CRASH {kind} (x{crash.get('count', 1)}): {crash.get('message', '')}")
            print(f"    shortest input ({crash['length']} bytes): {crash['input'][:400]}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if any(r.get("crashes") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
