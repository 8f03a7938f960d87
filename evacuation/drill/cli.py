"""`azevac drill` / `make drill`: a gray-failure drill on an embedded AWS, no account needed.

Exit code: 0 when every scenario passed, 1 when one failed (a game day that fails is loud),
2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from evacuation.drill.html_report import write_report
from evacuation.drill.render import ConsoleNarrator, SilentNarrator, summary_table
from evacuation.drill.report import DrillReport
from evacuation.drill.scenarios import SCENARIOS, Narrator, run_scenario

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
DEFAULT_AZ = "use1-az1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="azevac drill",
        description="Run a gray-failure drill against an embedded AWS (moto): inject the "
        "failure, watch the real handlers evacuate, check AWS, recover.",
    )
    parser.add_argument(
        "--scenario",
        choices=[*SCENARIOS, "all"],
        default="basic",
        help="what to drill (default basic; all runs every scenario)",
    )
    parser.add_argument("--az", default=DEFAULT_AZ, help=f"AZ ID to fail (default {DEFAULT_AZ})")
    parser.add_argument("--json", action="store_true", help="print one JSON document, no tables")
    parser.add_argument("--report", type=Path, metavar="PATH", help="write an HTML report")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the drill; the exit code is the verdict."""
    args = build_parser().parse_args(argv)
    if args.report is not None:
        problem = _unwritable(args.report)
        if problem:  # before the drill, not after it ran for a minute
            sys.stderr.write(f"azevac drill: --report {args.report}: {problem}\n")
            return EXIT_USAGE
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    narrator: Narrator = SilentNarrator() if args.json else ConsoleNarrator(console)
    started, clock = datetime.now(UTC), time.monotonic()
    results = [run_scenario(SCENARIOS[name], args.az, narrator) for name in names]
    report = DrillReport(results, started, time.monotonic() - clock)
    if args.report:
        write_report(report, args.report)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    else:
        console.print(summary_table(report))
        if args.report:
            console.print(f"HTML report: {args.report}")
    return EXIT_PASS if report.verdict == "PASS" else EXIT_FAIL


def _unwritable(path: Path) -> str | None:
    """Why the report cannot be written to `path`, or None (nothing is left behind)."""
    if path.is_dir():
        return "is a directory"
    parent = path.parent if str(path.parent) else Path()
    if not parent.is_dir():
        return f"{parent} is not a directory"
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    if not existed:
        path.unlink()
    return None
