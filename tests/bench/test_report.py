"""The benchmark report: both runs side by side, the README block and the chart come from
the saved runs (and the committed ones are up to date)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import report

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "docs" / "benchmark-runs"


def _entry(group, contender, role, workers, sps, **extra):
    return {"extra_info": {"group": group, "contender": contender, "role": role,
                           "num_workers": workers, "samples_per_s": sps, "mib_per_s": sps / 64,
                           "samples": 100, "samples_yielded": 100, **extra}}


def _run(kind: str, ours: float) -> dict:
    g = "shards/AISShardReader"
    return {
        "datetime": "2030-01-01T00:00:00", "commit_info": {"id": "a" * 40, "branch": "main"},
        "ais_bench": {"target": {"kind": kind, "name": kind}, "command": "pytest benchmarks"},
        "benchmarks": [
            _entry(g, "ais_datasets", "ours", 0, ours, ceiling_paired_ratio=0.5,
                   ceiling_paired_min=0.4, ceiling_paired_max=0.6,
                   ceiling_pattern="4 GetBatch + 1 list"),
            _entry(g, "aistore.pytorch", "baseline", 0, 100.0, ceiling_paired_ratio=0.1,
                   ceiling_paired_min=0.1, ceiling_paired_max=0.1),
            _entry(g, "DataLoader ceiling", "dataloader-ceiling", 0, 4 * ours),
        ]}


def test_side_by_side_table_and_readme_block(tmp_path):
    runs = [_run("emulator", 300.0), _run("aistore", 200.0)]
    for r in runs:
        report.fill_ratios([b["extra_info"] for b in r["benchmarks"]])
    table = report.summary_table(runs)
    assert table[0] == ("| what | emulator: × upstream | emulator: × ceiling "
                        "| real AIStore: × upstream | real AIStore: × ceiling |")
    assert "| shards/AISShardReader · ais_datasets · 0 workers | 3.00× | 0.50× | 2.00× " \
           "| 0.50× |" in table
    block = report.readme_block(runs)
    assert "aistore.pytorch" not in block.split("\n")[4]  # ours only in the README
    assert "307 redirect" in block and "from memory" in block and "2-core" in block
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{report.README_BEGIN}\nold\n{report.README_END}\nafter\n")
    assert report.rewrite_readme(readme, block)
    text = readme.read_text()
    assert "old" not in text and text.startswith("before\n") and text.endswith("after\n")
    assert "2.00×" in text
    text_table = report.aligned(table)
    assert len({len(line) for line in text_table}) == 1
    md = report.render_markdown(runs)
    assert "## Emulator" in md and "## Real AIStore" in md and "0.25×" in md  # × DL ceiling


def test_chart_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks.chart import render_chart

    runs = [_run("emulator", 300.0), _run("aistore", 200.0)]
    for r in runs:
        report.fill_ratios([b["extra_info"] for b in r["benchmarks"]])
    path = tmp_path / "c.png"
    assert render_chart(runs, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not (RUNS / "emulator.json").exists(), reason="no saved benchmark run")
def test_committed_report_and_readme_match_the_saved_runs():
    runs = [report.load(RUNS / "emulator.json")]
    if (RUNS / "aistore.json").exists():
        runs.append(report.load(RUNS / "aistore.json"))
    readme = (ROOT / "README.md").read_text()
    assert report.readme_block(runs) in readme, "README's table is stale: make bench-report"
    also = [report.load(RUNS / f"{name}.json") for name in ("durable", "faults")
            if (RUNS / f"{name}.json").exists()]
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    assert page == report.render_markdown(runs, also=also), \
        "docs/benchmarks.md is stale: make bench-report"
    json.dumps(runs)  # plain data


def test_fault_rows_get_their_own_tables():
    run = {"benchmarks": [
        {"extra_info": {"fault_group": "faults/AISShardReader (own GETs)", "condition": "cuts",
                        "num_workers": 0, "samples_per_s": 900.0, "ratio_vs_clean": 0.9,
                        "ratio_min": 0.8, "ratio_max": 1.1, "faults_fired": 7, "exact": True}},
        {"extra_info": {"fault_group": "checksum/AISShardReader (own GETs)", "num_workers": 0,
                        "samples_per_s": 950.0, "ratio_vs_unchecked": 0.95, "ratio_min": 0.9,
                        "ratio_max": 1.0}}]}
    page = report.render_markdown([_run("emulator", 300.0)], chart=None, also=[run])
    assert "## Emulator, a separate run" in page
    assert "| AISShardReader (own GETs) | 0 | cuts | 900.0 | 0.90× (0.80–1.10) | 7 | yes |" in page
    assert "| AISShardReader (own GETs) | 0 | 950.0 | 0.95× (0.90–1.00) |" in page
