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


def test_paper_tables_put_the_papers_numbers_beside_whole_sets_only(tmp_path):
    """A cell with 1 of Set14's 14 images shows its gain over bicubic but no paper number (the paper's mean is over
    all 14); a whole Set5 cell shows the paper's 33.42 and the difference to it."""
    rows = {"set14": [("comic", 22.0, 22.5)], "set5": [(n, 30.0, 33.0 + i * 0.1) for i, n in
                                                      enumerate(["baby", "bird", "butterfly", "head", "woman"])]}
    header = "dataset,degradation,kernel,scale,image,method,psnr,ssim,seconds,iterations,subset,cpu,commit\n"
    for dataset, images in rows.items():
        lines = [f"{dataset},bicubic,bicubic,3,{n},{m},{p},0.9,10,0,0,avx2,abc\n" for n, b, z in images
                 for m, p in (("bicubic", b), ("zssr", z))]
        (tmp_path / f"{dataset}-bicubic-bicubic-x3.csv").write_text(header + "".join(lines))
    script = ROOT / "benchmarks" / "reproduce" / "paper_tables.py"
    subprocess.run([sys.executable, str(script), "write", "--page", str(tmp_path / "p.md"), "--results", str(tmp_path)],
                   check=True, capture_output=True)
    lines = (tmp_path / "p.md").read_text().splitlines()
    table = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in lines if line.startswith("| set")}
    assert table["set5"][3:10] == ["5 / 5", "30.00 / 0.9000", "30.39 / 0.8682", "33.20 / 0.9000", "+3.20",
                                   "33.42 / 0.9188", "-0.22"]
    assert table["set14"][3:10] == ["1 / 14", "22.00 / 0.9000", "", "22.50 / 0.9000", "+0.50", "", ""]
