"""neurarust.onnx.load: PyTorch models exported to ONNX run here with PyTorch's numbers, train, and
bad files give clear errors. Single ops are checked against ONNX Runtime."""
from __future__ import annotations

import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import neurarust as nr  # noqa: E402
import neurarust.onnx as nonnx  # noqa: E402
from neurarust import nn  # noqa: E402
from neurarust.onnx.errors import UnsupportedOnnxError  # noqa: E402

# The TorchScript exporter is deprecated in torch 2.9+ and says so on every call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning",
                                        "ignore::UserWarning", "ignore::torch.jit.TracerWarning")

tn = torch.nn
TOL = 1e-4


# -- the four PyTorch models --------------------------------------------------------------------------

class MLP(tn.Module):
    def __init__(self):
        super().__init__()
        self.net = tn.Sequential(tn.Linear(8, 16), tn.ReLU(), tn.Linear(16, 16), tn.Tanh(), tn.Linear(16, 4))

    def forward(self, x):
        return self.net(x)


class CNN(tn.Module):
    def __init__(self):
        super().__init__()
        self.features = tn.Sequential(tn.Conv2d(1, 4, 3, padding=1), tn.BatchNorm2d(4), tn.ReLU(), tn.MaxPool2d(2),
                                      tn.Conv2d(4, 8, 3), tn.BatchNorm2d(8), tn.ReLU(), tn.AvgPool2d(2))
        self.fc = tn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class LSTM(tn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = tn.LSTM(5, 6, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = tn.Linear(12, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


class Encoder(tn.Module):
    """A pre-norm encoder layer with a causal mask built from the input's length and a padding mask."""

    def __init__(self):
        super().__init__()
        self.layer = tn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, activation="gelu",
                                                norm_first=True)

    def forward(self, x, pad):
        mask = tn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.layer(x, src_mask=mask, src_key_padding_mask=pad)


def _inputs(name: str, batch: int):
    g = torch.Generator().manual_seed(batch)
    if name == "encoder":
        pad = torch.zeros(batch, 5, dtype=torch.bool)
        pad[-1, 3:] = True
        return torch.randn(batch, 5, 16, generator=g), pad
    shape = {"mlp": (batch, 8), "cnn": (batch, 1, 8, 8), "lstm": (batch, 4, 5)}[name]
    return (torch.randn(*shape, generator=g),)


def _model(name: str):
    torch.manual_seed(0)
    model = {"mlp": MLP, "cnn": CNN, "lstm": LSTM, "encoder": Encoder}[name]()
    if name == "cnn":  # non-trivial running statistics
        with torch.no_grad():
            model.train()(torch.randn(16, 1, 8, 8))
    return model.eval()


def _torchscript_export(model, args) -> bytes:
    names = ["x", "pad"][:len(args)]
    f = io.BytesIO()
    # No constant folding: BatchNormalization stays a node instead of being folded into Conv.
    torch.onnx.export(model, args, f, dynamo=False, opset_version=17, input_names=names,
                      dynamic_axes={n: {0: "batch"} for n in names}, do_constant_folding=False)
    return f.getvalue()


def _max_diff(model, loaded, args) -> float:
    with torch.no_grad():
        want = model(*args).numpy()
    got = loaded(*[nr.from_numpy(a.numpy()) for a in args]).detach().numpy()
    return float(np.abs(got - want).max())


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm", "encoder"])
def test_torchscript_export_runs_with_pytorchs_numbers_at_two_batch_sizes(name, record_property):
    model = _model(name)
    loaded = nonnx.load(_torchscript_export(model, _inputs(name, 2)))
    diffs = [_max_diff(model, loaded, _inputs(name, batch)) for batch in (2, 3)]
    record_property("max_abs_diff", max(diffs))
    print(f"{name} (TorchScript exporter, opset 17): max |diff| {max(diffs):.2e}")
    assert max(diffs) < TOL


def test_torchscript_exports_carry_the_ops_the_importer_must_cover():
    ops = set()
    for name in ("cnn", "lstm", "encoder"):
        proto = onnx.load_from_string(_torchscript_export(_model(name), _inputs(name, 2)))
        ops |= {n.op_type for n in proto.graph.node}
    assert {"BatchNormalization", "MaxPool", "AveragePool", "Flatten", "LSTM", "ConstantOfShape", "Shape",
            "Gather", "Unsqueeze", "Concat", "Reshape", "Where", "Expand", "Equal", "Cast", "Erf", "Softmax",
            "LayerNormalization", "Trilu", "Slice"} <= ops


@pytest.mark.parametrize("name", ["lstm", "encoder"])
def test_dynamo_export_runs_with_pytorchs_numbers(name, record_property):
    pytest.importorskip("onnxscript")
    model, args = _model(name), _inputs(name, 2)
    program = torch.onnx.export(model, args, dynamo=True, opset_version=18, verbose=False)
    loaded = nonnx.load(program.model_proto)
    diff = _max_diff(model, loaded, args)
    record_property("max_abs_diff", diff)
    print(f"{name} (dynamo exporter, opset 18): max |diff| {diff:.2e}")
    assert diff < TOL


# -- the loaded module --------------------------------------------------------------------------------

def test_initializers_become_parameters_and_running_statistics_buffers():
    loaded = nonnx.load(_torchscript_export(_model("cnn"), _inputs("cnn", 2)))
    params = dict(loaded.named_parameters())
    buffers = dict(loaded.named_buffers())
    assert "fc_weight" in params and isinstance(params["fc_weight"], nn.Parameter)
    assert loaded.onnx_names["fc_weight"] == "fc.weight"
    assert any(n.endswith("running_mean") for n in buffers) and not any("running" in n for n in params)
    assert loaded.input_names == ["x"]


def test_one_fine_tuning_step_lowers_the_loss():
    loaded = nonnx.load(_torchscript_export(_model("mlp"), _inputs("mlp", 2)))
    x, target = nr.randn(16, 8, generator=nr.Generator().manual_seed(0)), nr.zeros(16, 4)
    opt = nr.optim.SGD(loaded.parameters(), lr=0.1)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = nn.functional.mse_loss(loaded(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[1] < losses[0]


def test_batch_norm_follows_train_and_eval_modes():
    loaded = nonnx.load(_torchscript_export(_model("cnn"), _inputs("cnn", 2)))
    mean = next(b for n, b in loaded.named_buffers() if n.endswith("running_mean"))
    before = mean.tolist()
    x = nr.randn(4, 1, 8, 8)
    loaded.eval()(x)
    assert mean.tolist() == before
    loaded.train()(x)
    assert mean.tolist() != before


def test_loaded_model_runs_on_the_triton_backend():
    model = _model("mlp")
    loaded = nonnx.load(_torchscript_export(model, _inputs("mlp", 2)))
    before = sum(nr.backends.launch_counts.values())
    with nr.backends.using("triton"):
        assert _max_diff(model, loaded, _inputs("mlp", 2)) < TOL
    assert sum(nr.backends.launch_counts.values()) > before  # Triton kernels (interpreted) ran


def test_inputs_are_checked_against_the_graph():
    loaded = nonnx.load(_torchscript_export(_model("mlp"), _inputs("mlp", 2)))
    with pytest.raises(nr.ShapeError, match=r"input 'x' should have shape \['\?', 8\], got \[2, 7\]"):
        loaded(nr.zeros(2, 7))
    with pytest.raises(nr.DTypeError, match="float32"):
        loaded(nr.zeros(2, 8, dtype=nr.float64))
    with pytest.raises(nonnx.OnnxError, match="1 input"):
        loaded(nr.zeros(2, 8), nr.zeros(2, 8))


# -- single ops against ONNX Runtime ---------------------------------------------------------------

def _rand(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (op, inputs as arrays, attributes, opset): each one model with one node.
SINGLE_OPS = [
    ("Conv", [_rand(1, 2, 6, 6), _rand(4, 1, 3, 3)], dict(group=2, pads=[1, 0, 2, 1], strides=[2, 1]), 17),
    ("Conv", [_rand(1, 2, 7), _rand(3, 2, 3), _rand(3)], dict(auto_pad="SAME_UPPER", strides=[2]), 17),
    ("ConvTranspose", [_rand(1, 2, 4, 4), _rand(2, 3, 3, 3)], dict(strides=[2, 2], pads=[1, 0, 0, 1],
                                                                   output_padding=[1, 0]), 17),
    ("MaxPool", [_rand(1, 2, 7, 7)], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1), 17),
    ("AveragePool", [_rand(1, 2, 6, 6)], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]), 17),
    ("GlobalAveragePool", [_rand(2, 3, 4, 5)], {}, 17),
    ("BatchNormalization", [_rand(2, 3, 4), _rand(3), _rand(3), _rand(3), np.abs(_rand(3)) + 0.5], {}, 17),
    ("LayerNormalization", [_rand(2, 3, 4), _rand(3, 4), _rand(3, 4)], dict(axis=1, epsilon=1e-3), 17),
    ("Softmax", [_rand(2, 3, 4)], dict(axis=1), 17),
    ("Softmax", [_rand(2, 3, 4)], dict(axis=1), 11),
    ("LogSoftmax", [_rand(2, 5)], {}, 17),
    ("Gemm", [_rand(3, 2), _rand(4, 3), _rand(4)], dict(transA=1, transB=1, alpha=0.5, beta=2.0), 17),
    ("MatMul", [_rand(2, 1, 3, 4), _rand(5, 4, 2)], {}, 17),
    ("LeakyRelu", [_rand(5)], dict(alpha=0.2), 17),
    ("Elu", [_rand(5)], dict(alpha=0.5), 17),
    ("Gelu", [_rand(5)], dict(approximate="tanh"), 20),
    ("HardSigmoid", [_rand(5)], {}, 17),
    ("Clip", [_rand(5), np.array(-0.5, np.float32), np.array(0.5, np.float32)], {}, 17),
    ("Pow", [np.abs(_rand(4)), _rand(4, seed=1)], {}, 17),
    ("Div", [np.array([7, -7, 5], np.int64), np.array([2, 2, -3], np.int64)], {}, 17),
    ("Mod", [np.array([7, -7, 5], np.int64), np.array([2, 3, -3], np.int64)], {}, 17),
    ("ReduceMean", [_rand(2, 3, 4), np.array([0, 2], np.int64)], dict(keepdims=0), 18),
    ("ReduceSum", [_rand(2, 3, 4), np.array([-1], np.int64)], {}, 13),
    ("ReduceMax", [_rand(2, 3, 4)], dict(axes=[1]), 17),
    ("ReduceMin", [_rand(2, 3, 4)], {}, 17),
    ("ArgMax", [_rand(3, 4)], dict(axis=1, keepdims=0), 17),
    ("Slice", [_rand(5, 6), np.array([4, 1], np.int64), np.array([-10, 100], np.int64),
               np.array([0, 1], np.int64), np.array([-2, 2], np.int64)], {}, 17),
    ("Gather", [_rand(4, 3), np.array([[0, -1], [2, 1]], np.int64)], dict(axis=0), 17),
    ("Split", [_rand(5, 2)], dict(axis=0, num_outputs=2), 18),
    ("Squeeze", [_rand(2, 1, 3, 1), np.array([1, -1], np.int64)], {}, 17),
    ("Unsqueeze", [_rand(2, 3), np.array([0, -1], np.int64)], {}, 17),
    ("Flatten", [_rand(2, 3, 4)], dict(axis=2), 17),
    ("Expand", [_rand(3, 1), np.array([2, 1, 4], np.int64)], {}, 17),
    ("Tile", [_rand(2, 3), np.array([2, 1], np.int64)], {}, 17),
    ("Pad", [_rand(2, 3), np.array([0, 1, 1, 2], np.int64), np.array(1.5, np.float32)], {}, 17),
    ("Transpose", [_rand(2, 3, 4)], dict(perm=[2, 0, 1]), 17),
    ("Where", [_rand(3, 4) > 0, _rand(3, 4), _rand(4)], {}, 17),
    ("Range", [np.array(1, np.int64), np.array(10, np.int64), np.array(3, np.int64)], {}, 17),
    ("ConvTranspose", [_rand(1, 2, 5), _rand(2, 2, 3), _rand(4)], dict(group=2, dilations=[2], pads=[1, 1]), 17),
    ("Conv", [_rand(1, 1, 4, 4, 4), _rand(2, 1, 2, 2, 2)], dict(dilations=[1, 2, 1]), 17),
    ("MaxPool", [_rand(1, 2, 9)], dict(kernel_shape=[3], strides=[2], dilations=[2]), 17),
    ("AveragePool", [_rand(1, 2, 9)], dict(kernel_shape=[3], strides=[2], pads=[1, 1]), 17),
    ("GlobalMaxPool", [_rand(2, 3, 4, 5)], {}, 17),
    ("InstanceNormalization", [_rand(2, 3, 5), _rand(3), _rand(3)], dict(epsilon=1e-3), 17),
    ("PRelu", [_rand(2, 3, 4), _rand(3, 1)], {}, 17),
    ("Selu", [_rand(5)], {}, 17),
    ("Celu", [_rand(5)], dict(alpha=0.7), 17),
    ("HardSwish", [_rand(7) * 4], {}, 17),
    ("Mish", [_rand(5)], {}, 18),
    ("Clip", [_rand(5)], {}, 17),
    ("Sum", [_rand(2, 3), _rand(3), _rand(2, 1)], {}, 17),
    ("Mean", [_rand(2, 3), _rand(3)], {}, 17),
    ("Max", [_rand(2, 3), _rand(3)], {}, 17),
    ("Min", [_rand(2, 3), _rand(3)], {}, 17),
    ("ReduceProd", [_rand(2, 3, 4)], dict(axes=[0, 2], keepdims=1), 17),
    ("ReduceL2", [_rand(2, 3, 4), np.array([1], np.int64)], {}, 18),
    ("ReduceSumSquare", [_rand(2, 3, 4)], dict(axes=[-1]), 17),
    ("ArgMin", [_rand(3, 4)], dict(axis=0), 17),
    ("GatherElements", [_rand(3, 4), np.array([[0, -1, 2, 1]], np.int64)], dict(axis=0), 17),
    ("Shape", [_rand(2, 3, 4)], dict(start=1, end=-1), 17),
    ("Size", [_rand(2, 3, 4)], {}, 17),
    ("ConstantOfShape", [np.array([2, 3], np.int64)], dict(value=numpy_helper.from_array(np.array([7], np.int32))), 17),
    ("Cast", [_rand(5) * 3], dict(to=TensorProto.INT32), 17),
    ("CastLike", [np.arange(4, dtype=np.int64), np.zeros(1, np.float16)], {}, 17),
    ("Concat", [_rand(2, 3), _rand(2, 1), _rand(2, 2)], dict(axis=-1), 17),
    ("Split", [_rand(2, 5), np.array([2, 3], np.int64)], dict(axis=1), 17),
    ("Squeeze", [_rand(1, 3, 1)], {}, 17),
    ("Pad", [_rand(1, 2, 4), np.array([0, 0, 2, 0, 0, 1], np.int64)], dict(mode="reflect"), 17),
    ("Pad", [_rand(1, 2, 4), np.array([1, 3], np.int64), None, np.array([-1], np.int64)], dict(mode="edge"), 18),
    ("Trilu", [_rand(3, 4), np.array(1, np.int64)], dict(upper=0), 17),
    ("Equal", [np.array([1, 2, 3], np.int64), np.array([1, 0, 3], np.int64)], {}, 17),
    ("Greater", [_rand(2, 3), _rand(3)], {}, 17),
    ("LessOrEqual", [_rand(2, 3), _rand(3)], {}, 17),
    ("Xor", [_rand(4) > 0, _rand(4, seed=1) > 0], {}, 17),
    ("Not", [_rand(4) > 0], {}, 17),
    ("Dropout", [_rand(4), np.array(0.5, np.float32)], {}, 17),
    ("Identity", [_rand(4)], {}, 17),
    ("Softmax", [_rand(2, 3)], {}, 17),
    ("LSTM", [_rand(3, 2, 4), _rand(1, 20, 4), _rand(1, 20, 5), _rand(1, 40), np.array([3, 3], np.int32),
              _rand(1, 2, 5), _rand(1, 2, 5), _rand(1, 15)], dict(hidden_size=5, direction="reverse", clip=2.0), 17),
    ("LSTM", [_rand(3, 2, 4), _rand(2, 12, 4), _rand(2, 12, 3)], dict(hidden_size=3, direction="bidirectional"), 17),
]


def _single_op_model(op, inputs, attrs, opset):
    names = [f"in{i}" if a is not None else "" for i, a in enumerate(inputs)]
    n_out = {"Split": 2, "LSTM": 3}.get(op, 1)
    outs = [f"out{i}" for i in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    graph = helper.make_graph(
        [node], "single", [], [helper.make_value_info(o, onnx.TypeProto()) for o in outs],
        [numpy_helper.from_array(a, n) for a, n in zip(inputs[1:], names[1:]) if a is not None])
    graph.input.append(helper.make_tensor_value_info(names[0], helper.np_dtype_to_tensor_dtype(inputs[0].dtype),
                                                     inputs[0].shape))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


UNARY = ["Neg", "Abs", "Sqrt", "Exp", "Log", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos",
         "IsNaN", "Relu", "Sigmoid", "Tanh", "Softsign", "Softplus"]
SINGLE_OPS += [(op, [np.abs(_rand(2, 5)) * 3 if op in ("Sqrt", "Log") else _rand(2, 5) * 3], {}, 17) for op in UNARY]


@pytest.mark.parametrize("op,inputs,attrs,opset", SINGLE_OPS,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SINGLE_OPS)])
def test_single_op_equals_onnxruntime(op, inputs, attrs, opset):
    ort = pytest.importorskip("onnxruntime")
    model = _single_op_model(op, inputs, attrs, opset)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"in0": inputs[0]})
    got = nonnx.load(model)(nr.from_numpy(inputs[0]))
    got = got if isinstance(got, tuple) else (got,)
    for g, w in zip(got, want):
        assert tuple(g.shape) == w.shape and g.dtype.np == w.dtype
        np.testing.assert_allclose(g.detach().numpy(), w, rtol=TOL, atol=TOL)


def test_layer_norm_decomposed_by_opset_14_export_runs():
    model, args = _model("encoder"), _inputs("encoder", 2)
    f = io.BytesIO()
    torch.onnx.export(model, args, f, dynamo=False, opset_version=14, input_names=["x", "pad"])
    ops = {n.op_type for n in onnx.load_from_string(f.getvalue()).graph.node}
    assert {"ReduceMean", "Sub", "Pow", "Sqrt", "Div"} <= ops and "LayerNormalization" not in ops
    assert _max_diff(model, nonnx.load(f.getvalue()), args) < TOL


def test_lstm_batch_first_layout_is_the_default_layout_transposed():
    # ONNX Runtime has no layout=1 LSTM; the default layout is checked against it above.
    x, w, r = _rand(3, 2, 4), _rand(2, 12, 4), _rand(2, 12, 3)
    attrs = dict(hidden_size=3, direction="bidirectional")
    y, h, c = nonnx.load(_single_op_model("LSTM", [x, w, r], attrs, 17))(nr.from_numpy(x))
    yb, hb, cb = nonnx.load(_single_op_model("LSTM", [x.transpose(1, 0, 2).copy(), w, r], dict(attrs, layout=1), 17))(
        nr.from_numpy(x.transpose(1, 0, 2).copy()))
    assert yb.shape == (2, 3, 2, 3) and hb.shape == (2, 2, 3)
    np.testing.assert_allclose(yb.detach().numpy(), y.detach().numpy().transpose(2, 0, 1, 3), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(cb.detach().numpy(), c.detach().numpy().transpose(1, 0, 2), rtol=1e-6, atol=1e-6)


# -- errors -------------------------------------------------------------------------------------------

def test_unsupported_ops_are_all_listed_in_one_error():
    nodes = [helper.make_node("NonZero", ["x"], ["a"], name="nz"), helper.make_node("Relu", ["x"], ["b"]),
             helper.make_node("TopK", ["x", "k"], ["c", "d"], name="top"),
             helper.make_node("NonZero", ["b"], ["e"], name="nz2"),
             helper.make_node("Custom", ["x"], ["f"], name="mine", domain="my.ops")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
                                           helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("f", TensorProto.FLOAT, [3])])
    with pytest.raises(UnsupportedOnnxError) as info:
        nonnx.load(helper.make_model(graph))
    assert set(info.value.ops) == {"NonZero", "TopK", "my.ops::Custom"}
    assert info.value.ops["NonZero"] == ["nz", "nz2"]
    assert "'top'" in str(info.value) and isinstance(info.value, ValueError)


def _mlp_bytes() -> bytes:
    return _torchscript_export(_model("mlp"), _inputs("mlp", 2))


def test_dangling_inputs_and_missing_initializers_are_named():
    proto = onnx.load_from_string(_mlp_bytes())
    del proto.graph.initializer[0]  # net.0.weight
    with pytest.raises(nonnx.OnnxError, match="node '/net/net.0/Gemm' \\(Gemm\\) reads 'net.0.weight'"):
        nonnx.load(proto)


def test_malformed_sources_raise_onnx_errors(tmp_path):
    with pytest.raises(nonnx.OnnxError, match="not a valid ONNX model"):
        nonnx.load(b"\x08\x07\x12\xff\xff\xff\xff\x0f")
    with pytest.raises(nonnx.OnnxError, match="path, bytes or an onnx.ModelProto"):
        nonnx.load(12)
    proto = onnx.load_from_string(_mlp_bytes())
    proto.graph.initializer[1].raw_data = proto.graph.initializer[1].raw_data[:-4]  # wrong data length
    with pytest.raises(nonnx.OnnxError, match="does not match its dims"):
        nonnx.load(proto)
    proto = onnx.load_from_string(_mlp_bytes())
    proto.graph.initializer[1].data_type = TensorProto.STRING
    with pytest.raises(nonnx.OnnxError, match="STRING"):
        nonnx.load(proto)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.6, 0.95])
def test_truncated_files_raise_onnx_errors(fraction, tmp_path):
    data = _mlp_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(nonnx.OnnxError):
        nonnx.load(path)


def test_fuzzed_files_raise_only_neurarust_errors():
    data = _mlp_bytes()
    x = nr.randn(2, 8)
    outcomes = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        fuzzed = bytearray(data)
        for pos in rng.integers(0, len(data), size=1 + seed % 4):
            fuzzed[pos] = int(rng.integers(0, 256))
        try:
            nonnx.load(bytes(fuzzed))(x)
            outcomes.add("ran")
        except nr.NeuraRustError as e:
            outcomes.add(type(e).__name__)
    # Every seed either ran (a changed weight is still a model) or raised a NeuraRustError; anything
    # else fails the test.
    assert "OnnxError" in outcomes


def test_docs_table_is_current():
    from neurarust.onnx import table

    assert table.updated(table.PAGE.read_text()) == table.PAGE.read_text(), \
        "docs/onnx.md is out of date: run python -m neurarust.onnx.table"
