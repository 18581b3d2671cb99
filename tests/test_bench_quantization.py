"""Smoke test of the quantization bench suite (no GPU needed: the matmul target is skipped)."""
from test_bench import bench_main  # noqa: F401  (bench_main is a fixture)


def test_quantization_suite_reports_sizes_and_skips_the_gpu_matmul(bench_main):
    suite = bench_main(["--quick", "--suite", "quantization", "--md", ""])["suites"]["quantization"]
    sizes, speed = suite["targets"][:2], suite["targets"][2]
    assert [t["name"][:3] for t in suite["targets"]] == ["(v)", "(v)", "(w)"]
    assert all(t["status"] == "PASS" and t["value"] <= 0.3 for t in sizes)
    assert speed["status"] == "n/a" and "needs CUDA" in suite["skipped"][0]["reason"]
