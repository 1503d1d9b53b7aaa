"""Turn one saved pytest-benchmark run into ``benchmarks.md`` and ``benchmarks.png``.

Everything comes from the JSON written by ``--benchmark-json`` (``extra_info`` of each
entry, ``machine_info``, ``commit_info`` and the ``ais_bench`` block added by
``benchmarks/conftest.py``); nothing is measured here::

    python -m benchmarks.report bench-results/run.json docs
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from pathlib import Path

from benchmarks import durable_report
from benchmarks.measure import BASELINE, FLOOR, LIMIT, OURS, PAIRED, fill_ratios

CHART = "benchmarks.png"
ROLE_ORDER = {OURS: 0, BASELINE: 1, PAIRED: 2, "other": 3, FLOOR: 4, LIMIT: 5}


def _fmt(x, spec: str = ".1f", unit: str = "") -> str:
    if x is None:
        return "–"
    return f"{x:{spec}}{unit}"


def _ratio(x) -> str:
    return "–" if x is None else f"{x:.2f}×"


def _ms(seconds) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _us(seconds) -> str:
    return "–" if seconds is None else f"{seconds * 1e6:.0f} µs"


def _workers(info: dict) -> str:
    w = info.get("num_workers")
    return "–" if w is None else str(w)


def _load(path: Path) -> dict:
    run = json.loads(path.read_text())
    infos = [b.get("extra_info") or {} for b in run.get("benchmarks", [])]
    fill_ratios(infos)  # idempotent; fills them if the run predates the hook
    return run


def _groups(run: dict) -> OrderedDict:
    groups: OrderedDict[str, list[dict]] = OrderedDict()
    for bench in run.get("benchmarks", []):
        info = bench.get("extra_info") or {}
        if "group" not in info:
            continue
        groups.setdefault(info["group"], []).append(info)

    def order(name: str) -> tuple:
        return (0 if name.startswith("server-") else 2 if name.startswith("memory") else 1,
                name)

    out = OrderedDict()
    for name in sorted(groups, key=order):
        out[name] = sorted(groups[name], key=lambda i: (
            ROLE_ORDER.get(i.get("role"), 9), i.get("contender", ""),
            -1 if i.get("num_workers") is None else i["num_workers"],
            i.get("scale_factor", 0)))
    return out


def _machine(run: dict) -> str:
    m = run.get("machine_info", {})
    cpu = m.get("cpu", {}) or {}
    brand = cpu.get("brand_raw") or m.get("processor") or m.get("machine") or "unknown CPU"
    parts = [brand, f"{m.get('cpu_count_logical', cpu.get('count', '?'))} logical CPUs"]
    if m.get("memory_total_gib"):
        parts.append(f"{m['memory_total_gib']} GiB RAM")
    parts.append(f"{m.get('python_implementation', 'Python')} {m.get('python_version', '')}")
    if m.get("platform"):
        parts.append(m["platform"])
    versions = m.get("versions") or {}
    if versions:
        parts.append(", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return "; ".join(parts)


def _commit(run: dict) -> str:
    c = run.get("commit_info") or {}
    if not c.get("id"):
        return "unknown commit"
    dirty = " (dirty tree)" if c.get("dirty") else ""
    return f"{c.get('branch') or '?'} @ {c['id'][:12]}{dirty}"


def _note(info: dict) -> str:
    notes = []
    if info.get("capped_at"):
        notes.append(f"capped: first {info['capped_at']} samples, rates on those")
    if info.get("samples_yielded", 0) > info.get("samples", 0) + 0.5 and info.get(
            "role") != LIMIT:
        notes.append(f"{info['samples_yielded']:.0f} items yielded for "
                     f"{info['samples']:.0f} distinct samples (duplicates across workers)")
    if info.get("note"):
        notes.append(info["note"])
    return "; ".join(notes).replace("|", "\\|")


def _server_table(name: str, rows: list[dict]) -> list[str]:
    base = next((r["contender"] for r in rows if r.get("role") == BASELINE), "baseline")
    out = [f"### {name}", "",
           f"| server | requests/s | MiB/s | × {base} | server CPU / request | "
           f"client CPU / request | rounds | notes |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r.get("role") == PAIRED:
            ratio = (f"{r['paired_ratio']:.2f}× ({r['paired_ratio_min']:.2f}–"
                     f"{r['paired_ratio_max']:.2f})")
            cpu = (f"{_us(r.get('server_cpu_s_per_request'))} / "
                   f"{_us(r.get('moto_server_cpu_s_per_request'))}")
            client = (f"{_us(r.get('client_cpu_s_per_request'))} / "
                      f"{_us(r.get('moto_client_cpu_s_per_request'))}")
            rate = "–"
        else:
            ratio = _ratio(r.get("ratio_to_baseline"))
            cpu = _us(r.get("server_cpu_s_per_request"))
            client = _us(r.get("client_cpu_s_per_request"))
            rate = _fmt(r.get("samples_per_s"))
        mib = _fmt(r.get("mib_per_s")) if r.get("role") != PAIRED else "–"
        out.append(f"| {r['contender']} | {rate} | {mib} | {ratio} | {cpu} | {client} "
                   f"| {r.get('rounds', '–')} | {_note(r)} |")
    ours = next((r for r in rows if r.get("role") == OURS), None)
    paired = next((r for r in rows if r.get("role") == PAIRED), None)
    summary = []
    if ours and ours.get("ratio_to_baseline"):
        extra = ""
        if ours.get("server_cpu_ratio"):
            extra = f", using {ours['server_cpu_ratio']:.1f}× less server CPU per request"
        summary.append(f"**{ours['contender']}: {ours['ratio_to_baseline']:.2f}× {base}** "
                       f"(separate tests){extra}.")
    if paired and paired.get("paired_ratio"):
        summary.append(f"**Paired rounds: {paired['paired_ratio']:.2f}× {base}** (median of "
                       f"{paired.get('paired_rounds')} alternating pairs, range "
                       f"{paired['paired_ratio_min']:.2f}–{paired['paired_ratio_max']:.2f}).")
    for line in summary:
        out += ["", line]
    return out + [""]


def _limit_cell(r: dict) -> str:
    if r.get("limit_paired_ratio"):
        return (f"{r['limit_paired_ratio']:.2f}× ({r['limit_paired_min']:.2f}–"
                f"{r['limit_paired_max']:.2f})")
    return _ratio(r.get("ratio_to_limit"))


def _dataset_table(name: str, rows: list[dict]) -> list[str]:
    base = next((r["contender"] for r in rows if r.get("role") == BASELINE), "upstream")
    has_floor = any(r.get("role") == FLOOR for r in rows)
    floor_head, floor_rule = (" × floor |", "---:|") if has_floor else ("", "")
    out = [f"### {name}", "",
           f"| contender | workers | samples/s | MiB/s | × {base} | × limit (paired) |"
           f"{floor_head} first sample | peak RSS main | peak RSS children (sum) "
           f"| peak PSS total | notes |",
           f"|---|---:|---:|---:|---:|---:|{floor_rule}---:|---:|---:|---:|---|"]
    for r in rows:
        wrss = r.get("peak_rss_workers_mib") if r.get("worker_processes") else None
        floor_cell = f" {_ratio(r.get('ratio_to_floor'))} |" if has_floor else ""
        out.append(
            f"| {r['contender']} | {_workers(r)} | {_fmt(r.get('samples_per_s'))} "
            f"| {_fmt(r.get('mib_per_s'))} | {_ratio(r.get('ratio_to_baseline'))} "
            f"| {_limit_cell(r)} |{floor_cell} {_ms(r.get('ttfs_s'))} "
            f"| {_fmt(r.get('peak_rss_mib'), '.0f', ' MiB')} "
            f"| {_fmt(wrss, '.0f', ' MiB')} | {_fmt(r.get('peak_pss_total_mib'), '.0f', ' MiB')} "
            f"| {_note(r)} |")
    out += [""]
    for r in rows:
        if r.get("role") != OURS:
            continue
        parts = []
        if r.get("ratio_to_baseline"):
            parts.append(f"{r['ratio_to_baseline']:.2f}× {base}")
        if r.get("ratio_to_limit"):
            parts.append(f"{r['ratio_to_limit']:.2f}× the raw-GET limit")
        if r.get("ratio_to_floor"):
            parts.append(f"{r['ratio_to_floor']:.2f}× the DataLoader floor")
        if parts:
            out.append(f"* **{r['contender']}, {_workers(r)} workers: "
                       f"{', '.join(parts)}**")
    if any(r.get("role") == OURS for r in rows):
        out.append("")
    out += ["Peak RSS children: the sum of each child process's own peak (DataLoader "
            "workers, range-read processes, curl); pages a child shares with the main process "
            "after `fork` count in every one of them. Peak PSS total: main process plus "
            "children sampled together, shared pages split between sharers."]
    return out + [""]


def _memory_table(name: str, rows: list[dict]) -> list[str]:
    out = [f"### {name}", "",
           "Peak RSS of the loading process (`num_workers=0`) while reading one shard, each "
           "round in a fresh process with the libraries already imported; growth = peak "
           "minus the RSS at the start of the round (a constant set-up part plus whatever "
           "grows with the shard). Growth 8S / S near 1× means memory does not follow the "
           "shard size.", "",
           "| contender | shard | shard size | peak RSS | growth | growth 8S / S "
           "| peak RSS children (sum) | notes |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        wrss = r.get("peak_rss_workers_mib") if r.get("worker_processes") else None
        label = "S" if r.get("scale_factor") == 1 else f"{r.get('scale_factor')}S"
        out.append(
            f"| {r['contender']} | {label} | {_fmt(r.get('shard_mib'), '.1f', ' MiB')} "
            f"| {_fmt(r.get('peak_rss_mib'), '.0f', ' MiB')} "
            f"| {_fmt(r.get('peak_rss_delta_mib'), '.1f', ' MiB')} "
            f"| {_ratio(r.get('rss_delta_ratio')) if r.get('scale_factor', 1) > 1 else ''} "
            f"| {_fmt(wrss, '.0f', ' MiB')} | {_note(r)} |")
    return out + [""]


def render_markdown(run: dict, chart: str | None = CHART) -> str:
    bench = run.get("ais_bench") or {}
    groups = _groups(run)
    quick = " (quick sizes)" if bench.get("quick") else ""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks.report` from one saved pytest-benchmark run; "
        "do not edit by hand.",
        "",
        f"* Run: {run.get('datetime', '?')}{quick}, {_commit(run)}",
        f"* Machine: {_machine(run)}",
        f"* Reproduce: `{bench.get('command', 'make bench')}` then "
        f"`{bench.get('python', 'python')} -m benchmarks.report "
        f"{bench.get('json') or '<run.json>'} docs` (`make bench` does both; "
        "`make bench-quick` for the tenth-size run)",
        "",
        "Every figure below comes from the same run, the same bytes and the same server: "
        "an `ais_emulator.EmulatorServer` on 127.0.0.1 in its own process (moto's "
        "`ThreadedMotoServer`, also in its own process, for the server comparison). Rates "
        "are medians over the rounds; a round includes building the dataset and the "
        "DataLoader. × columns are ratios of samples/s to the baseline (upstream "
        "`aistore.pytorch`, same `num_workers`), to the limit and to the DataLoader "
        "floor. The limit is sequential streaming GETs of the same objects, bytes "
        "dropped (`requests`, 1 MiB reads); every dataset round is paired with one limit "
        "pass run just before it, and × limit is the median of the per-round ratios "
        "(range in brackets), so drift between tests does not move it. The DataLoader "
        "floor replays the same samples from memory through the same DataLoader "
        "settings: the most any dataset can deliver through that DataLoader here. MiB/s "
        "counts the bytes of the objects read (tar headers included for shards). "
        "Absolute numbers depend on a noisy machine; the ratios are the result.",
        "",
    ]
    if chart:
        lines += [f"![benchmark chart]({chart})", ""]
    for name, rows in groups.items():
        if name.startswith(durable_report.PREFIX):
            lines += durable_report.tables(name, rows)
        elif name.startswith("server-"):
            lines += _server_table(name, rows)
        elif any("scale_factor" in r for r in rows):
            lines += _memory_table(name, rows)
        else:
            lines += _dataset_table(name, rows)
    skipped = bench.get("skipped") or []
    if skipped:
        lines += ["### Not measured in this run", ""]
        lines += [f"* `{s['test']}`: {s['reason']}" for s in skipped]
        lines.append("")
    if not groups:
        lines += ["No benchmark entries in this run.", ""]
    return "\n".join(lines)


def render_chart(run: dict, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # the paired A/B rows repeat the emulator's rate; their ratio is in the table
    groups = [(n, [r for r in rows if r.get("role") != PAIRED])
              for n, rows in _groups(run).items()]
    if not groups:
        return False
    cols = 2
    nrows = (len(groups) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(13, 3.2 * nrows), squeeze=False)
    colors = {OURS: "#2a7ab9", BASELINE: "#d9822b", "other": "#7a7a7a", LIMIT: "#3a9a5b",
              FLOOR: "#b5b5b5"}
    for ax, (name, rows) in zip(axes.flat, groups, strict=False):
        memory = any("scale_factor" in r for r in rows)
        big = all((r.get("bytes_per_sample") or 0) >= 2**20 for r in rows)
        labels, values, cols_ = [], [], []
        for r in rows:
            if memory:
                tag = "S" if r.get("scale_factor") == 1 else f"{r.get('scale_factor')}S"
                labels.append(f"{r['contender']} {tag}")
                values.append(r.get("peak_rss_delta_mib") or 0.0)
            else:
                w = f" w={r['num_workers']}" if r.get("num_workers") is not None else ""
                cap = " (capped)" if r.get("capped_at") else ""
                labels.append(f"{r['contender']}{w}{cap}")
                values.append(r.get("mib_per_s" if big else "samples_per_s") or 0.0)
            cols_.append(colors.get(r.get("role"), "#999999"))
        y = range(len(rows))
        # a floor far beyond every contender would flatten them: clip it, print its value
        others = [v for v, r in zip(values, rows, strict=True) if r.get("role") != FLOOR]
        limit_x = 1.3 * max(others) if others and max(others) > 0 else None
        if limit_x is not None and max(values) <= limit_x:
            limit_x = None
        shown = [min(v, limit_x) if limit_x else v for v in values]
        ax.barh(list(y), shown, color=cols_)
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9)
        unit = "samples/s"
        if memory:
            unit = "peak RSS growth (MiB)"
        elif big:
            unit = "MiB/s"
        elif name.startswith("server-"):
            unit = "requests/s"
        ax.set_xlabel(unit, fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        for yi, v, w in zip(y, values, shown, strict=True):
            label = f" {v:,.0f}" if v >= 10 else f" {v:.2f}"
            ax.text(w, yi, label + (" (clipped)" if w < v else ""), va="center", fontsize=7)
        ax.margins(x=0.18)
        if limit_x:
            ax.set_xlim(0, limit_x * 1.25)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    quick = " (quick sizes)" if (run.get("ais_bench") or {}).get("quick") else ""
    fig.suptitle(f"ais_datasets benchmarks, {run.get('datetime', '')[:19]}{quick}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m benchmarks.report <run.json> <outdir>", file=sys.stderr)
        return 2
    run = _load(Path(argv[0]))
    outdir = Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    has_chart = render_chart(run, outdir / CHART)
    (outdir / "benchmarks.md").write_text(render_markdown(run, CHART if has_chart else None))
    print(f"wrote {outdir / 'benchmarks.md'}" + (f" and {outdir / CHART}" if has_chart else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
