"""Behaviour is unchanged by refactoring: the golden runs of ``tests/golden.py`` give the same numbers (to 1e-6) and
the same output image bytes as when they were recorded on this class of machine."""

import json

import pytest

from conftest import DATA_DIR, needs_data
from golden import GOLDEN_DIR, _inputs, cases, differences, fingerprint, machine_key, run_case


@pytest.fixture(scope="module")
def golden():
    path = GOLDEN_DIR / f"{machine_key()}.json"
    if not path.is_file():
        pytest.skip(f"no golden record for {machine_key()}: record one with `python tests/golden.py` on an unchanged "
                    f"tree ({sorted(p.stem for p in GOLDEN_DIR.glob('*.json'))} exist)")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return _inputs(tmp_path_factory.mktemp("golden_inputs"), DATA_DIR)


@needs_data
@pytest.mark.parametrize("name", list(cases(DATA_DIR)))
def test_golden_run_is_unchanged(name, golden, inputs, tmp_path):
    run_case(name, tmp_path, inputs, DATA_DIR)
    assert not differences(golden[name], fingerprint(tmp_path)), differences(golden[name], fingerprint(tmp_path))
