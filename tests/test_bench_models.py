"""Smoke tests of the models suite, the charts and the GPU targets of the ops suite (no GPU needed)."""
import sys

import pytest

from test_bench import _positive, bench_main  # noqa: F401  (bench_main is a fixture)


def test_models_quick_run_reports_the_mlp_and_cnn_targets(bench_main):
    suite = bench_main(["--quick", "--suite", "models", "--md", ""])["suites"]["models"]
    assert [t["name"][:3] for t in suite["targets"]] == ["(p)", "(q)"]
    assert all(t["status"] in ("PASS", "MISS") and t["limit"] == 1.5 for t in suite["targets"])
    assert [c["model"] for c in suite["cases"]] == ["mlp", "cnn", "resnet", "gpt"]
    for c in suite["cases"]:
        assert _positive(c["ratio"]) and c["loss_difference"] < 1e-3
        assert _positive(c["samples_per_s"]["neurarust"]) and _positive(c["samples_per_s"]["torch"])
    assert "GPU GPT" in suite["skipped"][0]["op"]


def test_charts_are_written_beside_the_report(tmp_path):
    pytest.importorskip("matplotlib")
    from bench.charts import write_charts
    from bench.harness import SuiteResult, Target, render_markdown

    result = SuiteResult("models", cases=[{"title": "MLP", "ratio": 2.0}, {"title": "GPT", "ratio": 0.9}],
                         targets=[Target("(p) MLP", 2.0, 1.5).to_json()])
    charts, note = write_charts([result], tmp_path)
    assert note == "" and sorted(p.name for p in tmp_path.iterdir()) == ["models.png", "targets.png"]
    md = render_markdown({"cpu": "x", "cores": 1, "gpu": None, "os": "", "python": "", "numpy": "", "torch": "",
                          "triton": "", "neurarust": "", "date": "", "argv": []}, [result], "", charts)
    assert "](models.png)" in md and "](targets.png)" in md and "| `models` | (p) MLP |" in md


def test_gpu_targets_of_the_ops_suite():
    from bench.suites.ops import _gpu_targets

    def case(op, kind, ratio, **extra):
        return {"op": op, "kind": kind, "size": "large", "ratio": ratio, "dtype": "bfloat16",
                "shapes": [[4096, 4096]], "gflops": {"neurarust": 6e5, "torch": 6.6e5}, **extra}

    cases = [case("add", "elementwise", 1.0, bw_pct_peak=90.0), case("exp", "elementwise", 1.0, bw_pct_peak=80.0),
             case("neg", "elementwise", 1.0, bw_pct_peak=88.0), case("matmul", "matmul", 1.2, flops_pct_peak=61.0),
             case("softmax", "softmax", 0.9)]
    targets = {t.name[:3]: t for t in _gpu_targets(cases, 3.35)}
    assert (targets["(x)"].value, targets["(x)"].status) == (88.0, "PASS")
    assert targets["(y)"].status == "MISS" and "61%" in targets["(y)"].detail
    assert targets["(z)"].status == "PASS"


def test_without_matplotlib_the_report_says_charts_were_skipped(tmp_path, monkeypatch):
    from bench.charts import write_charts
    from bench.harness import SuiteResult

    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib now raises ImportError
    charts, note = write_charts([SuiteResult("models", cases=[{"title": "MLP", "ratio": 2.0}])], tmp_path)
    assert charts == {} and "matplotlib is not installed" in note and not list(tmp_path.iterdir())


def test_compile_suites_gpt_steps_run_and_agree_on_the_cpu():
    from bench.suites.compile import gpt_steps

    eager, compiled, theirs = gpt_steps("quick", "cpu", with_torch_compile=False)
    assert theirs is None
    losses = [float(eager()) for _ in range(2)] + [float(compiled()) for _ in range(3)]
    assert all(abs(a - b) < 0.5 for a, b in zip(losses, losses[1:]))   # one model, training on
