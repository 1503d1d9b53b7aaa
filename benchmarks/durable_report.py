"""The ``durable-*`` sections of ``benchmarks.md`` (``benchmarks/test_durable.py``).

``benchmarks.report`` renders them wherever a run holds them: ``make bench-durable`` runs
them alone into ``docs/benchmark-runs/durable.json``, which the report shows as a section
of its own.
"""

from __future__ import annotations

PREFIX = "durable-"


def _ms(seconds) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f} ms"


def _mib(x) -> str:
    return "–" if x is None else f"{x:.0f}"


def _notes(r: dict) -> str:
    load = r.get("load_avg")
    return r.get("note", "") + ("" if load is None else f"; load average {load:.1f}")


def mixed_load_table(name: str, rows: list[dict]) -> list[str]:
    lines = [f"### {name}", "",
             "| server | ops/s | × in-memory | p50 | p99 | GET p50 / p99 | PUT p50 / p99 | "
             "errors | torn reads | ops | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ratio = r.get("ratio_to_baseline")
        lines.append(
            f"| {r['contender']} | {r['samples_per_s']:.0f} | "
            f"{'–' if ratio is None else f'{ratio:.2f}×'} | {_ms(r.get('p50_s'))} | "
            f"{_ms(r.get('p99_s'))} | {_ms(r.get('get_p50_s'))} / {_ms(r.get('get_p99_s'))} | "
            f"{_ms(r.get('put_p50_s'))} / {_ms(r.get('put_p99_s'))} | {r.get('errors')} | "
            f"{r.get('torn_reads')} | {r.get('ops')} | {_notes(r)} |")
    mix = next((r.get("mix") for r in rows if r.get("mix")), None)
    if mix:
        lines += ["", "Mix: " + ", ".join(f"{k} {v}%" for k, v in mix.items()) + "; "
                  "objects of 1, 16 and 256 KiB; append = one append and its flush. Every "
                  "GET body is checked against its checksum header and must be one whole "
                  "PUT's bytes; every listing must be one sorted snapshot. With a data dir "
                  "every write is fsynced (file, directory, catalog) before it is "
                  "acknowledged; writers take turns for the catalog commit, so write "
                  "latency grows with the number of concurrent writers, while reads never "
                  "wait for an fsync."]
    return lines + [""]


def large_object_table(name: str, rows: list[dict]) -> list[str]:
    lines = [f"### {name}", "",
             "| what | object | PUT MiB/s | PUT peak RSS growth | GET MiB/s | "
             "GET peak RSS growth | target growth |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        size = f"{r['object_mib']:.0f} MiB"
        target = f"< {r['target_rss_growth_mib']} MiB"
        lines.append(
            f"| {r['contender']} (HTTP) | {size} | {_mib(r.get('put_mib_per_s'))} | "
            f"{_mib(r.get('put_rss_growth_mib'))} MiB | {_mib(r.get('get_mib_per_s'))} | "
            f"{_mib(r.get('get_rss_growth_mib'))} MiB | {target} |")
        if r.get("store_put_mib_per_s") is not None:
            lines.append(
                f"| `DiskStore` alone | {size} | {_mib(r['store_put_mib_per_s'])} | "
                f"{_mib(r['store_put_rss_growth_mib'])} MiB | "
                f"{_mib(r['store_get_mib_per_s'])} | "
                f"{_mib(r['store_get_rss_growth_mib'])} MiB | {target} |")
    lines += ["", "Peak RSS growth: the process's kernel high-water mark (reset just before "
              "the transfer) minus its RSS before it. The GET is served by a server "
              "restarted on the same data dir (the object's checksum is checked after the "
              "restart)."]
    return lines + [""]


def tables(name: str, rows: list[dict]) -> list[str]:
    if name.startswith(PREFIX + "mixed"):
        return mixed_load_table(name, rows)
    return large_object_table(name, rows)
