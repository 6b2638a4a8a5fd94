"""Time encoding one 224² crop with both encoders (E_flame + E_detail), CPU, eval mode.

Methodology: deterministic test checkpoint weights, a fixed random image, ``torch.inference_mode``,
``torch.set_num_threads(THREADS)``, ``_timing.time_it`` (warm-up calls, then ``--repeat`` timed
calls; median and IQR reported). Variants:

* ``eval``: the modules as loaded (``.eval()``), NCHW.
* ``channels_last``: the same modules with weights and input in channels-last memory format.
* ``fused``: :meth:`ResnetEncoder.fuse_for_inference` (BatchNorm folded into convolutions), NCHW.
* ``fused+channels_last``: both.

Each variant's codes are compared with ``eval``'s (max abs difference). The target is 120 ms per
image for both encoders together. ``cpu_ms`` is the process CPU time per call (all threads): on a
shared, loaded machine wall time inflates but CPU time stays close to the work done.

    python benchmarks/bench_encode.py [--threads 2] [--batch 1] [--repeat 10] [--json out.json]

All times are per image (a call's time divided by ``--batch``).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import subprocess
import time
from pathlib import Path

import torch
from torch import nn

from _timing import environment, set_threads, time_it
from pydeca.assets.checkpoint import load_networks
from pydeca.assets.synthetic_checkpoint import deterministic_checkpoint
from pydeca.nets import build_networks

TARGET_MS = 120.0
_CPU_RUNS = 3
"""Calls over which process CPU time is averaged (robust to other load on the machine)."""


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH is intended
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _channels_last_copy(module: nn.Module) -> nn.Module:
    out = copy.deepcopy(module).eval()
    return out.to(memory_format=torch.channels_last)


def _variants(nets: dict[str, nn.Module]) -> dict[str, tuple[nn.Module, nn.Module, bool]]:
    """``name -> (E_flame, E_detail, channels_last input)`` for each variant."""
    e_flame, e_detail = nets["E_flame"].eval(), nets["E_detail"].eval()
    return {
        "eval": (e_flame, e_detail, False),
        "channels_last": (_channels_last_copy(e_flame), _channels_last_copy(e_detail), True),
        "fused": (
            e_flame.fuse_for_inference(channels_last=False),
            e_detail.fuse_for_inference(channels_last=False),
            False,
        ),
        "fused+channels_last": (
            e_flame.fuse_for_inference(channels_last=True),
            e_detail.fuse_for_inference(channels_last=True),
            True,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per variant (after 2 warm-up)")
    parser.add_argument("--batch", type=int, default=1, help="images per call; times are per image")
    parser.add_argument("--variants", nargs="+", default=None, help="subset of variants to time")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    torch.manual_seed(0)
    set_threads(args.threads)
    print(environment())
    nets = {k: m.to_empty(device="cpu") for k, m in build_networks(device="meta").items()}
    load_networks(nets, deterministic_checkpoint())
    image = torch.rand(args.batch, 3, 224, 224)

    results = {}
    reference = None
    with torch.inference_mode():
        for name, (e_flame, e_detail, channels_last) in _variants(nets).items():
            if args.variants is not None and name not in args.variants:
                continue
            x = image.contiguous(memory_format=torch.channels_last) if channels_last else image

            def run(e_flame=e_flame, e_detail=e_detail, x=x) -> torch.Tensor:
                return torch.cat([e_flame(x), e_detail(x)], dim=1)

            codes = run()
            reference = codes if reference is None else reference
            timing = time_it(run, repeat=args.repeat, warmup=2)
            median_ms = timing.median_ms / args.batch
            cpu_start = time.process_time()
            for _ in range(_CPU_RUNS):
                run()
            cpu_ms = (time.process_time() - cpu_start) / _CPU_RUNS * 1e3 / args.batch
            results[name] = {
                "median_ms": round(median_ms, 2),
                "iqr_ms": round(timing.iqr_ms / args.batch, 2),
                "ratio_to_target": round(median_ms / TARGET_MS, 3),
                "cpu_ms": round(cpu_ms, 1),
                "max_abs_diff_vs_eval": float((codes - reference).abs().max()),
            }
            r = results[name]
            print(
                f"{name:22s} median {r['median_ms']:8.2f} ms  IQR {r['iqr_ms']:6.2f} ms  "
                f"{r['ratio_to_target']:.2f}× target ({TARGET_MS:.0f} ms)  CPU {r['cpu_ms']:7.1f} ms  "
                f"max|Δcodes| {r['max_abs_diff_vs_eval']:.2e}"
            )

    meta = {
        "commit": _commit(),
        "torch": torch.__version__,
        "threads": args.threads,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "batch": args.batch,
        "target_ms": TARGET_MS,
    }
    print(json.dumps(meta))
    if args.json is not None:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
