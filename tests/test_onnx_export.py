"""neurarust.onnx.export: the captured forward written as ONNX runs in ONNX Runtime (CPU execution
provider) with NeuraRust's numbers, at two batch sizes for a dynamic batch axis; it loads back with
neurarust.onnx.load; unsupported ops are named with the module that called them."""
from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import neurarust as nr  # noqa: E402
import neurarust.nn.functional as F  # noqa: E402
import neurarust.onnx as nonnx  # noqa: E402
from neurarust import nn  # noqa: E402
from neurarust.graph.ir import flatten  # noqa: E402
from neurarust.onnx.export_builder import OnnxExportError, UnsupportedExportError  # noqa: E402
from neurarust.registry import call  # noqa: E402

TOL = 1e-4


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
                                      nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


def _models():
    """name -> (model, example input, a second input with another batch size)."""
    nr.manual_seed(0)
    cnn = CNN()
    for bn in (cnn.features[1], cnn.features[5]):         # running statistics that are not 0 and 1
        bn.running_mean.copy_(nr.randn(bn.num_features) * 0.1)
        bn.running_var.copy_(nr.rand(bn.num_features) + 0.5)
    return {
        "mlp": (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 16), nn.Tanh(),
                              nn.Linear(16, 4)), nr.randn(3, 8), nr.randn(7, 8)),
        "cnn": (cnn, nr.randn(2, 1, 10, 10), nr.randn(5, 1, 10, 10)),
        "lstm": (nn.LSTM(3, 6, num_layers=2, batch_first=True), nr.randn(2, 4, 3), nr.randn(5, 4, 3)),
        "transformer": (nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True),
                        nr.randn(2, 5, 16), nr.randn(4, 5, 16)),
    }


MODELS = _models()
MEASURED: dict[str, float] = {}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = {}
    for name, (model, x, _) in MODELS.items():
        model.eval()
        path = str(tmp_path_factory.mktemp("onnx") / f"{name}.onnx")
        nonnx.export(model, (x,), path, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
        out[name] = path
    return out


def _leaves(result) -> list[np.ndarray]:
    leaves, _ = flatten(result)
    return [t.detach().numpy() for t in leaves]


def _max_diff(got: list, want: list) -> float:
    assert [np.shape(g) for g in got] == [np.shape(w) for w in want]
    return max(float(np.abs(np.asarray(g, np.float64) - np.asarray(w, np.float64)).max()) for g, w in zip(got, want))


@pytest.mark.parametrize("name", list(MODELS))
def test_onnxruntime_matches_neurarust_at_two_batch_sizes(exported, name):
    model, x, x2 = MODELS[name]
    session = ort.InferenceSession(exported[name], providers=["CPUExecutionProvider"])
    for inp in (x, x2):
        diff = _max_diff(session.run(None, {"x": inp.numpy()}), _leaves(model(inp)))
        MEASURED[name] = max(MEASURED.get(name, 0.0), diff)
        assert diff < TOL, f"{name} at batch {inp.shape[0]}: {diff}"


@pytest.mark.parametrize("name", list(MODELS))
def test_load_of_the_export_matches_the_original(exported, name):
    model, x, x2 = MODELS[name]
    loaded = nonnx.load(exported[name])
    for inp in (x, x2):
        assert _max_diff(_leaves(loaded(inp)), _leaves(model(inp))) < TOL


def test_exported_files_pass_the_full_checker_with_a_symbolic_batch_dim(exported):
    for name, path in exported.items():
        proto = onnx.load(path)
        onnx.checker.check_model(proto, full_check=True)
        dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
                for v in list(proto.graph.input) + list(proto.graph.output)]
        assert dims[0][0] == "batch" and any("batch" in d for d in dims[1:]), (name, dims)


def test_parameters_are_initializers_under_their_module_names(exported):
    names = {t.name for t in onnx.load(exported["cnn"]).graph.initializer}
    assert {"features.0.weight", "features.1.running_mean", "features.1.running_var", "fc.weight"} <= names


def test_linear_layers_become_gemm_with_the_bias_and_dropout_disappears(exported):
    ops = [n.op_type for n in onnx.load(exported["mlp"]).graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Tanh", "Gemm"]


def test_export_leaves_the_model_in_its_mode(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    nonnx.export(model, nr.randn(2, 2), str(tmp_path / "m.onnx"))
    assert model.training


# -- dynamic axes ---------------------------------------------------------------------------------

class TinyLM(nn.Module):
    """Embedding, positions from arange(seq), causal attention on reshaped heads: sizes from both axes."""

    def __init__(self):
        super().__init__()
        self.tok, self.pos, self.head = nn.Embedding(11, 8), nn.Embedding(16, 8), nn.Linear(8, 11)

    def forward(self, ids):
        b, t = ids.shape
        h = self.tok(ids) + self.pos(nr.arange(t))
        q = h.view(b, t, 2, 4).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2).reshape(b, t, 8)
        return F.log_softmax(self.head(a), -1)


def test_batch_and_sequence_axes_both_dynamic(tmp_path):
    nr.manual_seed(0)
    model, path = TinyLM(), str(tmp_path / "lm.onnx")
    proto = nonnx.export(model, nr.tensor([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]]), path, input_names=["ids"],
                         output_names=["logp"], dynamic_axes={"ids": {0: "batch", 1: "seq"}})
    out_dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims == ["batch", "seq", 11]
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for ids in (nr.tensor(np.arange(6).reshape(1, 6) % 11), nr.tensor(np.arange(27).reshape(3, 9) % 11)):
        assert _max_diff(session.run(None, {"ids": ids.numpy()}), _leaves(model(ids))) < TOL


def test_a_graph_that_changes_with_a_dynamic_axis_is_rejected(tmp_path):
    def unrolled(x):
        out = x[0]
        for i in range(1, x.shape[0]):
            out = out + x[i]
        return out

    with pytest.raises(OnnxExportError, match="changes with the size of a dynamic axis"):
        nonnx.export(unrolled, nr.randn(2, 3), str(tmp_path / "m.onnx"), dynamic_axes={"input": [0]})


# -- ops ------------------------------------------------------------------------------------------

X = nr.tensor([[-1.5, 0.5, 2.5, -0.25], [3.0, -2.0, 0.0, 1.0], [0.75, 1.25, -3.5, 2.0]])
Y = nr.tensor([[0.5, -1.0, 1.5, 2.0], [-0.5, 2.5, 1.0, -3.0], [1.0, 1.0, -2.0, 0.25]])
IDX = nr.tensor([[0, 2, 1, 0], [1, 1, 0, 2], [2, 0, 0, 1]])
Q = nr.tensor(np.linspace(-1, 1, 80, dtype=np.float32).reshape(2, 2, 5, 4))

OP_GROUPS = {
    "elementwise": (lambda a, b: (a.exp() + a.abs().sqrt() - a.neg().tanh() + a.sigmoid() + a.round() + a.trunc(),
                                  F.gelu(a) + F.gelu(a, approximate="tanh") + F.silu(a) + F.elu(a) + F.leaky_relu(a, 0.1),
                                  a.pow(2) + nr.maximum(a, b) - a.sub(b, alpha=0.5) + a.clamp(-0.5, 0.5) + a.remainder(b),
                                  nr.where((a > b) & (a <= 1) | (a == b), a, b) + a.masked_fill(a < 0, 3.0),
                                  (a.isnan() | a.isinf()).float(), nr.lerp(a, b, 0.3) + nr.addcmul(a, a, b, value=0.5)),
                    (X, Y)),
    "reductions": (lambda a, b: (a.sum(), a.mean(1), a.amax(0), a.amin(1, keepdim=True), a.logsumexp(1), a.var(1),
                                 a.std(0, unbiased=False), a.norm(), a.max(1)[0], a.max(1)[1], a.argmin(),
                                 F.softmax(a, -1), F.log_softmax(a, 0), a.cumsum(1)), (X, Y)),
    "matmul": (lambda a, b: (a @ b.t(), nr.bmm(a.unsqueeze(0), b.t().unsqueeze(0)), nr.mv(a, b[0]),
                             nr.addmm(a[:, :3], a, b.t()[:, :3], beta=0.5, alpha=2.0), nr.einsum("ij,kj->ik", a, b)),
               (X, Y)),
    "movement": (lambda a, b: (nr.cat([a, b], 1), nr.stack([a, b], 1), a.repeat(2, 1), a.flip(0), a.roll(1, 1),
                               a.triu(1), F.pad(a, (1, 2)), a.chunk(2, 1)[1], a.t(), a[1:, ::2],
                               a[:, None, :].expand(3, 2, 4), a.permute(1, 0)[::2], a.reshape(12)[3:9].view(2, 3)),
                 (X, Y)),
    "indexing": (lambda a, i: (a.gather(1, i), a.index_select(1, i[0]), a[i[1]], F.one_hot(i[0], 4), a.topk(2, 1)[0],
                               a.sort(1, descending=True)[1], a.scatter_add(0, i, a)), (X, IDX)),
    "losses": (lambda a, i: (F.mse_loss(a, a.flip(0)), F.huber_loss(a, a.flip(1), delta=0.5, reduction="sum"),
                             F.binary_cross_entropy_with_logits(a, (a > 0).float(), pos_weight=nr.tensor([1.0, 2.0, 0.5, 1.0])),
                             F.kl_div(F.log_softmax(a, 1), F.softmax(a.flip(0), 1), reduction="batchmean"),
                             F.cross_entropy(a, i[:, 0]), F.nll_loss(F.log_softmax(a, 1), i[:, 1], ignore_index=2)),
               (X, IDX)),
    "more": (lambda a, i: (nr.atan2(a, a.flip(0)), a.kthvalue(2, 1)[0], a.median(1)[1], a.repeat_interleave(2, 1),
                           nr.tensordot(a, a.t(), 1), a.index_add(1, i[0], a, alpha=0.5), a.index_fill(1, i[1, :2], -1.0)),
             (X, IDX)),
    "quantized": (lambda a, w, x: (call("int8_mm", a, w.t()),
                                   call("int8_linear", a, w, nr.tensor([0.5, 0.25, 0.1]), nr.tensor([0.01]), nr.tensor([1.0, 2, 3, 4])),
                                   *call("quantize_per_token", x),
                                   call("quantize_affine", x, nr.tensor([0.1, 0.2, 0.05, 0.1, 0.3]),
                                        nr.tensor([1, 0, -2, 0, 5], dtype=nr.int32), 1),
                                   call("dequantize_affine", a, nr.tensor([0.5]), nr.tensor([2], dtype=nr.int32))),
                  (nr.tensor(np.arange(15).reshape(3, 5) * 17 % 256 - 128, dtype=nr.int8),
                   nr.tensor(np.arange(20).reshape(4, 5) * 29 % 256 - 128, dtype=nr.int8),
                   nr.tensor(np.linspace(-2, 2, 15, dtype=np.float32).reshape(3, 5)))),
    "activations": (lambda a, b: (F.hardswish(a) + F.hardsigmoid(a) + F.selu(a) + F.celu(a, 2.0) + F.softsign(a),
                                  F.hardshrink(a, 1.0) + F.softshrink(a, 0.75) + F.logsigmoid(a * 40.0)
                                  + F.threshold(a, 0.5, -2.0)), (X, Y)),
    "attention": (lambda q, k: (F.scaled_dot_product_attention(q, k, q), F.scaled_dot_product_attention(q, k, q, is_causal=True),
                                F.scaled_dot_product_attention(q, k, q, attn_mask=nr.ones(5, 5).tril() > 0)),
                  (Q, Q.flip(-1))),
}


@pytest.mark.parametrize("group", list(OP_GROUPS))
def test_op_group_matches_onnxruntime(tmp_path, group):
    fn, args = OP_GROUPS[group]
    path = str(tmp_path / "ops.onnx")
    names = [f"in{i}" for i in range(len(args))]
    nonnx.export(fn, args, path, input_names=names)
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {n: a.numpy() for n, a in zip(names, args)})
    want = _leaves(fn(*args))
    assert [g.dtype for g in got] == [w.dtype for w in want]
    assert _max_diff(got, want) < TOL


@pytest.mark.parametrize("opset, ops", [(14, {"ReduceMean", "Erf"}), (20, {"LayerNormalization", "Gelu"})])
def test_older_and_newer_opsets_decompose_or_use_the_fused_op(tmp_path, opset, ops):
    nr.manual_seed(0)
    model = nn.Sequential(nn.LayerNorm(4), nn.GELU())
    path, x = str(tmp_path / "m.onnx"), nr.randn(3, 4)
    proto = nonnx.export(model, x, path, opset_version=opset)
    assert ops <= {n.op_type for n in proto.graph.node}
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})
    assert _max_diff(got, _leaves(model(x))) < TOL


# -- errors ---------------------------------------------------------------------------------------

class Inner(nn.Module):
    def forward(self, x):
        return x.cumprod(1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.inner = nn.Linear(4, 4), Inner()

    def forward(self, x):
        return self.inner(self.fc(x))


def test_an_unsupported_op_is_named_with_its_module_path(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), Block())
    with pytest.raises(UnsupportedExportError, match=r"'cumprod'.*'1\.inner \(Inner\)'") as info:
        nonnx.export(model, nr.randn(2, 4), str(tmp_path / "m.onnx"))
    assert (info.value.op, info.value.module) == ("cumprod", "1.inner (Inner)")
    assert isinstance(info.value, NotImplementedError) and not os.listdir(tmp_path)


def test_an_in_place_write_into_a_view_is_rejected(tmp_path):
    def partial(x):
        y = x.clone()
        y[:, 0] = 1.0
        return y

    with pytest.raises(UnsupportedExportError, match="writes into part of a tensor"):
        nonnx.export(partial, nr.randn(2, 4), str(tmp_path / "m.onnx"))


def test_a_failed_export_keeps_the_previous_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    with pytest.raises(UnsupportedExportError):
        nonnx.export(lambda x: x.cumprod(0), nr.randn(3), str(path))
    assert path.read_bytes() == b"previous"


def test_data_dependent_python_control_flow_is_a_clear_error(tmp_path):
    with pytest.raises(OnnxExportError, match="reads tensor values in Python"):
        nonnx.export(lambda x: x if x.sum() > 0 else -x, nr.randn(3), str(tmp_path / "m.onnx"))


def test_the_export_table_in_the_docs_is_current():
    from neurarust.onnx.export_table import main

    assert main(["--check"]) == 0, "run python -m neurarust.onnx.export_table"


def _random_view(rng, root):
    """A chain of view methods (permute, strided slices, select, unsqueeze + expand, transpose)."""
    v = root
    for _ in range(rng.randint(1, 4)):
        k, r = rng.random(), v.ndim
        if k < 0.25 and r >= 2:
            perm = list(range(r))
            rng.shuffle(perm)
            v = v.permute(*perm)
        elif k < 0.5 and r >= 1:
            d = rng.randrange(r)
            a = rng.randrange(v.shape[d])
            key = [slice(None)] * r
            key[d] = slice(a, rng.randint(a + 1, v.shape[d]), rng.randint(1, 3))
            v = v[tuple(key)]
        elif k < 0.6 and r >= 1:
            key = [slice(None)] * r
            key[rng.randrange(r)] = 0
            v = v[tuple(key)]
        elif k < 0.8:
            d = rng.randint(0, r)
            v = v.unsqueeze(d)
            shape = list(v.shape)
            shape[d] = rng.randint(1, 3)
            v = v.expand(*shape)
        elif r >= 2:
            v = v.transpose(0, r - 1)
    return v


def test_every_view_built_from_view_methods_has_a_checked_onnx_plan():
    import random

    from neurarust.onnx.export_views import plan

    rng = random.Random(0)
    for _ in range(400):
        shape = [rng.randint(1, 5) for _ in range(rng.randint(1, 4))]
        root = nr.arange(float(np.prod(shape))).reshape(*shape)
        if rng.random() < 0.3 and root.ndim >= 2:                 # a root whose own layout is permuted
            root = root.transpose(0, 1).contiguous().transpose(0, 1)
        v = _random_view(rng, root)
        plan(root.shape, root.stride(), v.shape, v.stride(), v.storage_offset() - root.storage_offset())  # checks itself
