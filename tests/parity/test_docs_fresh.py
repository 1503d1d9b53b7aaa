"""The generated docs (docs/parity.md, docs/emulation.md, the module map of
docs/architecture.md) match the code and the tests.

Runs offline: ``scripts/gen_docs.py`` regenerates the pages into a temporary directory
(in a subprocess, since it collects tests with pytest) and they must equal the committed
ones. When this fails, the code, a docstring, an ``ais_emulator_deviation`` marker or the
differential test's table changed: run ``make docs`` and commit the pages.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("parity.md", "emulation.md", "architecture.md")


def _generate(out: Path) -> dict[str, str]:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"),
                           "--out", str(out)],
                          cwd=ROOT, env={k: v for k, v in os.environ.items()
                               if k not in ("AIS_ENDPOINT", "AIS_EMULATOR_LIVE")},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"scripts/gen_docs.py failed:\n{done.stdout}\n{done.stderr}"
    return {name: (out / name).read_text(encoding="utf-8") for name in PAGES}


def test_generated_docs_are_up_to_date(tmp_path):
    generated = _generate(tmp_path)
    stale = []
    for name in PAGES:
        path = ROOT / "docs" / name
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if generated[name] != committed:
            diff = difflib.unified_diff(committed.splitlines(), generated[name].splitlines(),
                                        f"docs/{name} (committed)", f"docs/{name} (generated)",
                                        lineterm="", n=1)
            stale.append((name, "\n".join(list(diff)[:40])))
    if stale:
        pytest.fail("the generated docs are out of date: run `make docs` and commit "
                    + " and ".join(f"docs/{name}" for name, _ in stale) + "\n\n"
                    + "\n\n".join(text for _, text in stale), pytrace=False)
