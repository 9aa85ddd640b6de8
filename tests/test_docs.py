"""Docs that must match the code or the data: docs/design.md's concept -> module table (every module placed, every name
it gives exists), and the generated docs/paper_tables.md."""

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import zssr

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"


def test_every_module_has_a_home_in_the_design_table():
    text = DESIGN.read_text()
    table = text[text.index("## Concept -> module"): text.index("## The kernel plan")]
    modules = {m.name for m in pkgutil.iter_modules(zssr.__path__, "zssr.")} - {"zssr.conf"}
    missing = sorted(m for m in modules if not re.search(rf"`{re.escape(m)}[`.]", table))
    assert not missing, f"modules missing from docs/design.md: {missing}"
    for dotted in set(re.findall(r"`(zssr\.[a-z_.]+[A-Za-z_]*)`?", table)):
        parts = dotted.split(".")
        for cut in range(len(parts), 1, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
        for attr in parts[cut:]:
            assert hasattr(obj, attr), f"docs/design.md names {dotted}, which does not exist"
            obj = getattr(obj, attr)


def test_paper_tables_page_is_generated_from_the_committed_rows(tmp_path):
    """docs/paper_tables.md is what ``benchmarks/reproduce/paper_tables.py write`` makes of the committed per-image
    CSVs: a row added without rewriting the page (or a number typed into it) fails here."""
    page = tmp_path / "paper_tables.md"
    script = ROOT / "benchmarks" / "reproduce" / "paper_tables.py"
    subprocess.run([sys.executable, str(script), "write", "--page", str(page)], check=True, capture_output=True)
    assert page.read_text() == (ROOT / "docs" / "paper_tables.md").read_text()
