"""The benchmark chart: ratios, not rates (see :mod:`benchmarks.report`).

Two panels over the same rows (group · contender · workers): × upstream and × its request
ceiling, on a log scale with 1× marked. One colour per contender; each run (emulator,
real AIStore) a bar of its own, told apart by hatching; a legend says which is which::

    render_chart([emulator_run, live_run], Path("docs/benchmarks.png"))
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.measure import BASELINE
from benchmarks.report import summary_rows, target_name

COLOURS = {"ais_datasets": "#1f6fb4", "aistore.pytorch": "#e3862d", "webdataset": "#3b9c52"}
HATCHES = ["", "///"]


def _short(label: str) -> str:
    return label.replace(", batch_size=", " batch ").replace(" workers", " w")


def render_chart(runs: list[dict], path: Path) -> bool:
    rows = summary_rows(runs)
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = [target_name(r) for r in runs]
    height = 0.8 / len(runs)
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.42 * len(rows) + 1.8), sharey=True)
    panels = (("× upstream (aistore.pytorch, same workers)", "ratio_to_baseline"),
              ("× its request ceiling (same requests, lean reader)", "ratio_to_ceiling"))
    for ax, (title, key) in zip(axes, panels, strict=True):
        values = []
        for y, (_label, entries) in enumerate(rows):
            for k, e in enumerate(entries):
                if e is not None and key == "ratio_to_baseline" and e.get("role") == BASELINE:
                    if k == 0:
                        ax.text(1.04, y, "the baseline", va="center", fontsize=6.5,
                                color="#777777")
                    continue
                if e is None:
                    continue
                v = e.get(key)
                if not v:
                    continue
                values.append(v)
                pos = y - 0.4 + height * (k + 0.5)
                ax.barh(pos, v, height=height * 0.9,
                        color=COLOURS.get(e["contender"], "#888888"),
                        hatch=HATCHES[k % len(HATCHES)], edgecolor="white", linewidth=0.4)
                ax.text(v * 1.04, pos, f"{v:.2f}×" if v < 10 else f"{v:.0f}×",
                        va="center", fontsize=6.5)
        ax.set_xscale("log")
        if values:
            ax.set_xlim(min(min(values), 0.5) / 1.6, max(max(values), 2) * 2.2)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", which="major", linewidth=0.3, alpha=0.6)
    axes[0].set_yticks(range(len(rows)), [_short(label) for label, _ in rows], fontsize=7)
    axes[0].invert_yaxis()
    handles = [Patch(color=c, label=n) for n, c in COLOURS.items()]
    handles += [Patch(facecolor="#bbbbbb", hatch=HATCHES[k % len(HATCHES)], edgecolor="white",
                      label=f"served by the {n}") for k, n in enumerate(names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    fig.suptitle("ais_datasets benchmarks: ratios, each measured within its run (log scale; 1× marked)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
