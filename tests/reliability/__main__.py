"""`make reliability`: run the campaigns with large counts and print the figures.

python -m tests.reliability [--schedules 1000] [--fuzz 10000] [--rounds 10] [--seed N]
Exit code 1 if any case did not converge, broke an invariant, raised an unhandled error or
mutated AWS on bad input.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time

import structlog
from rich.console import Console
from rich.table import Table

from tests.reliability import campaigns
from tests.reliability.lab import lab


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability")
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--fuzz", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    logging.disable(logging.WARNING)
    console = Console(width=120)
    rng = random.Random(args.seed)
    tallies: list[tuple[campaigns.Tally, float]] = []

    def run(step: str, work: campaigns.Callable[[], campaigns.Tally]) -> None:
        console.print(f"[dim]running {step}...[/]")
        started = time.monotonic()
        tallies.append((work(), time.monotonic() - started))

    with lab() as built:
        seeds = [rng.randrange(2**32) for _ in range(args.schedules)]
        run("convergence", lambda: campaigns.convergence(built, seeds))
        precedence_seeds = [rng.randrange(2**32) for _ in range(args.schedules // 2)]
        run("precedence", lambda: campaigns.precedence(built, precedence_seeds))
        recovery_seeds = [rng.randrange(2**32) for _ in range(args.schedules // 2)]
        run("recovery", lambda: campaigns.recovery(built, recovery_seeds))
        run("crash points", lambda: campaigns.crash_points(built))
        run("crash points (prescale)", lambda: campaigns.crash_points(
            built, safety={"prescale": True}))  # fmt: skip
        run("lost responses", lambda: campaigns.lost_responses(built))
        run("budget", lambda: campaigns.budget(built))
        run("concurrency", lambda: campaigns.concurrency(built, rounds=args.rounds))
        events = [campaigns.bad_event(rng) for _ in range(args.fuzz)]
        run("fuzz", lambda: campaigns.fuzz(built, events))
        run("corrupted state", lambda: campaigns.corrupted_state(built))

    table = Table(title=f"azevac reliability (seed {args.seed})")
    for column in ("campaign", "cases", "converged", "invariant violations", "unhandled errors",
                   "mutations on bad input", "seconds"):  # fmt: skip
        table.add_column(column, justify="left" if column == "campaign" else "right")
    for tally, seconds in tallies:
        table.add_row(
            tally.campaign, str(tally.cases), str(tally.converged), str(len(tally.violations)),
            str(len(tally.unhandled)), str(tally.mutations_on_bad_input), f"{seconds:.0f}",
        )  # fmt: skip
    console.print(table)
    for tally, _ in tallies:
        for line in [*tally.violations[:10], *tally.unhandled[:10]]:
            console.print(f"[red]{tally.campaign}: {line}[/]")
    return 0 if all(t.clean for t, _ in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
