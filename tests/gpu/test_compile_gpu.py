"""neurarust.compile on a real GPU: CUDA-graph replay of inference, and compiled training."""
import pytest

import neurarust as nr
from neurarust.graph.cuda_graphs import CudaGraphProgram

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not nr.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURARUST_CACHE", str(tmp_path))


def mlp():
    nr.manual_seed(0)
    return nr.nn.Sequential(nr.nn.Linear(64, 128), nr.nn.GELU(), nr.nn.Linear(128, 10)).cuda()


def test_inference_replays_through_a_cuda_graph_and_equals_eager():
    model = mlp().eval()
    fast = nr.compile(model)
    with nr.no_grad():
        for _ in range(3):
            x = nr.randn(32, 64, device="cuda")
            out = fast(x)
        assert nr.allclose(out, model(x), rtol=1e-4, atol=1e-5)
    assert any(isinstance(e.forward, CudaGraphProgram) for e in fast._cache.values())


def test_outputs_of_earlier_calls_stay_valid():
    fast = nr.compile(lambda x: (x * 2).exp())
    with nr.no_grad():
        xs = [nr.randn(1000, device="cuda") for _ in range(4)]
        outs = [fast(x) for x in xs]
    for x, out in zip(xs, outs):
        assert nr.allclose(out, (x * 2).exp())


def test_compiled_training_step_equals_eager_on_cuda():
    runs = []
    for compiled in (False, True):
        model = mlp()
        opt = nr.optim.AdamW(model.parameters(), lr=1e-3, capturable=True)

        def step(x, y):
            opt.zero_grad()
            loss = nr.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step = nr.compile(step) if compiled else step
        nr.manual_seed(1)
        runs.append([float(step(nr.randn(32, 64, device="cuda"), nr.randint(0, 10, (32,), device="cuda")))
                     for _ in range(5)])
    assert runs[0] == pytest.approx(runs[1], rel=1e-4)
