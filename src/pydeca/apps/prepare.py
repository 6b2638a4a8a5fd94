"""``deca prepare``: label a training dataset (68 landmarks, skin mask, manifest) with a progress bar.

The work is :func:`pydeca.train.prepare.prepare_dataset`; this module only talks to the user:
a tqdm bar on stderr, one line per failed photo, a summary line.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm

from pydeca.detect.types import FaceDetector
from pydeca.train.prepare import (
    FAILURES_FILE,
    Outcome,
    PrepareOptions,
    PrepareReport,
    prepare_dataset,
)

from .common import say, warn

__all__ = ["run_prepare"]


def run_prepare(
    dataset: str | os.PathLike[str],
    labels: str | os.PathLike[str],
    options: PrepareOptions | None = None,
    *,
    detector: FaceDetector | None = None,
    quiet: bool = False,
) -> PrepareReport:
    """Label ``dataset`` into ``labels``; failures are printed (also with ``quiet``) and reported.

    Raises:
        InputError, OptionError, MissingDependencyError, OSError: as :func:`prepare_dataset`
        (the dataset folder or the detector is unusable; single photos never raise).
    """
    start = time.perf_counter()
    bars: list[tqdm] = []

    def started(total: int) -> None:  # the bar appears once the dataset has been listed
        bars.append(
            tqdm(total=total, desc="deca prepare", unit="photo", disable=quiet, leave=False, file=sys.stderr)
        )

    def done(outcome: Outcome) -> None:
        if outcome.status == "failed":
            warn(f"deca: failed: {outcome.path}: {outcome.reason}")
        bars[0].update(1)

    try:
        report = prepare_dataset(dataset, labels, options, detector=detector, on_photo=done, on_start=started)
    finally:
        for bar in bars:
            bar.close()
    seconds = time.perf_counter() - start
    counts = f"{report.labelled} labelled, {report.skipped} already done, {len(report.failed)} failed"
    say(quiet, f"deca: {counts} in {seconds:.1f} s -> {report.manifest} ({report.rows} rows)")
    if report.ignored:
        first = report.ignored[0]
        say(
            quiet,
            f"deca: {len(report.ignored)} image(s) left out by the layout, e.g. {first.path}: {first.reason}",
        )
    if report.failed:
        say(quiet, f"deca: failures listed in {report.manifest.parent / FAILURES_FILE}")
    return report
