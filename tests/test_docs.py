"""docs/design.md's concept -> module table matches the code: every module is placed, every name it gives exists."""

import importlib
import pkgutil
import re
from pathlib import Path

import zssr

DESIGN = Path(__file__).resolve().parents[1] / "docs" / "design.md"


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
