"""benchmarks/detection.png: p95 minutes from onset to the isolated alarm against traffic per
AZ-minute, one line per failure size, one panel per AZ count; a seed never detected puts the
point on the "not detected" line. matplotlib is a dev dependency: imported here only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evacuation.detection.matrix import Matrix


def draw(matrix: Matrix, path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - lazily: only `make detect` draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    cells = [c for c in matrix.cells if c.kind.size is not None and c.refused is None]
    panels = [azs for azs in matrix.options.azs if any(c.azs == azs for c in cells)]
    levels = sorted(matrix.options.levels)
    ceiling = max(
        [12.0, *(c.p(0.95) or 0.0 for c in cells), *(c.p(0.95, True) or 0.0 for c in cells)]
    )
    never = ceiling + 3
    fig, axes = plt.subplots(
        1, max(1, len(panels)), figsize=(5.2 * max(1, len(panels)), 4.4), squeeze=False
    )
    for ax, azs in zip(axes[0], panels or [0], strict=False):
        sizes = list(dict.fromkeys(c.kind.size for c in cells if c.azs == azs))
        for offset, size in enumerate(sizes):
            row = sorted((c for c in cells if c.azs == azs and c.kind.size == size),
                         key=lambda c: c.level)  # fmt: skip
            xs = [c.level for c in row]
            # undetected points sit on the "not detected" line, a little apart per failure size
            ys = [never + 0.25 * offset if c.p(0.95) is None else c.p(0.95) for c in row]
            (line,) = ax.plot(xs, ys, marker="o", label=size)
            missed = [(x, y) for x, y, c in zip(xs, ys, row, strict=True) if c.p(0.95) is None]
            if missed:
                ax.scatter(*zip(*missed, strict=True), marker="x", s=80, color=line.get_color())
        ax.axhline(never, color="grey", linewidth=0.8, linestyle=":")
        ax.text(levels[0], never, " not detected (p95)", va="bottom", fontsize=8, color="grey")
        ax.hlines([10, 3], [20, 200], [50, max(levels[-1], 200)], colors="red",
                  linestyles="dashed", linewidth=1, label="target")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xticks(levels, [f"{lv:,}" for lv in levels])
        ax.set_ylim(0, never + 0.25 * len(sizes) + 2)
        ax.set_xlabel("requests per AZ-minute")
        ax.set_ylabel("p95 minutes, onset → isolated alarm")
        ax.set_title(f"{azs} AZs, {matrix.options.seeds} seeds per point")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("azevac detection kit: time to the isolated-impact alarm by traffic level")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
