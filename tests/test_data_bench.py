"""Smoke test of the data benchmark suite (quick mode): it runs and reports its figures. Timings are
not asserted: they depend on the machine's load."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench is run from the repository, it is not an installed package
    sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.timeout(120)


def test_data_suite_quick_run():
    from bench.harness import Context
    from bench.suites import SUITES, run

    assert SUITES["data"] == "bench.suites.data"
    result = run("data", Context(quick=True, log=lambda _: None))
    assert sorted(c["case"] for c in result.cases) == ["neurarust/0", "neurarust/2", "torch/0", "torch/2"]
    assert all(c["samples_per_s"] > 0 for c in result.cases)
    assert [t["status"] in ("PASS", "MISS") for t in result.targets] == [True, True]
    assert result.extra["sample_ms"] > 0
    assert result.extra["rounds"] == 2 and result.extra["cpu_2_vs_0_workers"] > 0


def test_data_suite_transform_burns_about_two_ms_of_cpu_not_wall_time():
    import statistics

    from bench.suites import data

    burn = data.calibrate()
    img = data._probe_image()
    assert 1.0 < statistics.median(data.cpu_ms(lambda: burn(img)) for _ in range(5)) < 4.0
