"""More of PyTorch's API: ``nr.special``, bit shifts, top-level in-place functions, constants, the
default device and rrelu's in-place form, each checked against torch 2.13."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn.functional as F
from neurarust.errors import DeviceError, DTypeError, SignatureError

DTYPES = [(nr.float32, torch.float32, np.float32), (nr.float64, torch.float64, np.float64)]

# -- nr.special ----------------------------------------------------------------------------------

WIDE = [-1e5, -40.0, -26.5, -10.0, -1.0001, -1.0, -0.5, -1e-8, 0.0, 1e-8, 0.3, 1.0, 9.99, 10.0, 10.01, 26.0,
        40.0, 1e5, math.inf, -math.inf, math.nan]
PROBS = [0.0, 1e-300, 1e-30, 1e-10, 0.01, 0.2499, 0.25, 0.3, 0.5 - 1e-9, 0.5, 0.75, 0.7501, 0.99, 1 - 1e-10, 1.0,
         -0.1, 1.1, math.nan]
BESSEL = [-1e4, -713.0, -700.01, -50.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 3.0, 85.0, 699.99, 700.01, 1e4, math.inf,
          math.nan]
CASES = {"erfcx": WIDE, "log_ndtr": WIDE, "ndtr": WIDE, "entr": WIDE, "ndtri": PROBS, "i0e": BESSEL, "i1e": BESSEL,
         "i1": [-80.0, -3.0, -1e-3, 0.0, 0.5, 3.0, 80.0, math.nan]}


def _assert_close(ours: np.ndarray, want: np.ndarray, rtol: float) -> None:
    # Far tails that PyTorch flushes to 0 (ndtr below -37 in float64) hold correct tiny values here.
    np.testing.assert_allclose(ours, want, rtol=rtol, atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
def test_special_function_matches_torch_across_the_range(name, dt):
    # The oracle is PyTorch in float64 at the same (rounded) inputs: float32 results are then within
    # an ulp or two, where PyTorch's own float32 ones can be several ulp off.
    nd, td, npd = dt
    x = np.array(CASES[name], dtype=npd)
    ours = getattr(nr.special, name)(nr.tensor(x, dtype=nd))
    with np.errstate(over="ignore"):  # float64 truths past float32's range round to inf
        want = getattr(torch.special, name)(torch.tensor(x, dtype=torch.float64)).numpy().astype(npd)
    assert ours.dtype is nd
    finite = np.isfinite(want) | np.isnan(want)  # past float32's range, below
    if name == "ndtr":
        finite &= x > -8  # PyTorch's ndtr (1 + erf) / 2 loses the left tail: see the test below
    rtol = 2e-6 if nd is nr.float32 else 1e-13
    _assert_close(ours.numpy()[finite], want[finite], rtol)


def test_special_results_past_float32_range_are_inf_as_torch():
    x = nr.tensor([-92.0, 92.0])
    assert nr.special.i1(x).tolist() == torch.special.i1(torch.tensor([-92.0, 92.0])).tolist() == [-math.inf, math.inf]


def test_ndtr_keeps_the_left_tail_torch_flushes_to_zero():
    x = [-37.0, -20.0, -10.0]
    want = torch.special.log_ndtr(torch.tensor(x, dtype=torch.float64)).exp().numpy()  # exact in this range
    np.testing.assert_allclose(nr.special.ndtr(nr.tensor(x, dtype=nr.float64)).numpy(), want, rtol=1e-13)


@pytest.mark.parametrize("name,points", [("erfcx", [-3.0, -0.5, 0.0, 2.0, 12.0]), ("log_ndtr", [-30.0, -2.0, 0.5, 6.0]),
                                         ("ndtr", [-5.0, 0.0, 1.5]), ("entr", [0.0, 0.25, 2.0, -1.0]),
                                         ("ndtri", [1e-20, 0.1, 0.5, 0.8, 0.999]), ("i0e", [-800.0, -2.0, 0.0, 3.0, 900.0]),
                                         ("i1", [-2.0, 0.0, 0.7, 4.0]), ("i1e", [-800.0, -2.0, 0.0, 3.0, 900.0])])
def test_special_function_gradient_matches_torch(name, points):
    x = nr.tensor(points, dtype=nr.float64, requires_grad=True)
    getattr(nr.special, name)(x).sum().backward()
    tx = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    getattr(torch.special, name)(tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-300, equal_nan=True)


def test_special_gradient_in_float32_matches_torch():
    x = nr.tensor([-3.0, 0.5, 4.0], requires_grad=True)
    (nr.special.erfcx(x) + nr.special.log_ndtr(x)).sum().backward()
    tx = torch.tensor([-3.0, 0.5, 4.0], requires_grad=True)
    (torch.special.erfcx(tx) + torch.special.log_ndtr(tx)).sum().backward()
    assert x.grad.dtype is nr.float32
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_xlog1py_values_and_gradients_match_torch():
    a, b = [0.0, 0.0, 2.0, -3.0, 0.0], [-1.0, 0.5, 1.0, 3.0, math.nan]
    x, y = nr.tensor(a, dtype=nr.float64, requires_grad=True), nr.tensor(b, dtype=nr.float64, requires_grad=True)
    tx, ty = torch.tensor(a, dtype=torch.float64, requires_grad=True), torch.tensor(b, dtype=torch.float64, requires_grad=True)
    ours, want = nr.special.xlog1py(x, y), torch.special.xlog1py(tx, ty)
    np.testing.assert_allclose(ours.detach().numpy(), want.detach().numpy(), equal_nan=True)
    ours.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), equal_nan=True)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), equal_nan=True)


def test_xlog1py_takes_a_number_on_either_side():
    assert nr.special.xlog1py(2, nr.tensor([1.0])).tolist() == pytest.approx(torch.special.xlog1py(2, torch.tensor([1.0])).tolist())
    assert nr.special.xlog1py(nr.tensor([3.0]), 0.5).tolist() == pytest.approx([3 * math.log1p(0.5)])


def test_special_integer_input_gives_the_default_float_dtype():
    assert torch.special.ndtr(torch.tensor([0, 1])).dtype is torch.float32
    assert nr.special.ndtr(nr.tensor([0, 1])).dtype is nr.float32 and nr.special.erfcx(nr.tensor([0])).dtype is nr.float32


def test_special_non_tensor_input_raises_signature_error():
    with pytest.raises(SignatureError, match="ndtri"):
        nr.special.ndtri(0.5)


@pytest.mark.parametrize("name,target", [("gammaln", "lgamma"), ("psi", "digamma"), ("expit", "sigmoid"),
                                         ("multigammaln", "mvlgamma"), ("erf", "erf"), ("logsumexp", "logsumexp"),
                                         ("softmax", "softmax"), ("xlogy", "xlogy"), ("round", "round")])
def test_special_names_of_existing_functions_are_those_functions(name, target):
    assert getattr(nr.special, name) is getattr(nr, target)
    assert name in dir(nr.special) and hasattr(torch.special, name)


def test_special_aliases_agree_with_torch():
    x = [0.5, 2.5, 7.0]
    np.testing.assert_allclose(nr.special.gammaln(nr.tensor(x)).numpy(), torch.special.gammaln(torch.tensor(x)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(nr.special.multigammaln(nr.tensor(x[1:]), 2).numpy(),
                               torch.special.multigammaln(torch.tensor(x[1:]), 2).numpy(), rtol=1e-6)


def test_dir_of_special_lists_every_function_and_only_torch_names():
    names = set(dir(nr.special))
    assert {"entr", "erfcx", "log_ndtr", "ndtri", "ndtr", "xlog1py", "i0e", "i1", "i1e", "gammaln"} <= names
    assert all(hasattr(torch.special, n) for n in names if not n.startswith("_") and n not in {"annotations"}
               and callable(getattr(nr.special, n)))


def test_special_function_runs_on_the_triton_backend():
    with nr.backends.using("triton"):
        out = nr.special.erfcx(nr.tensor([-1.0, 0.5, 20.0]))
    np.testing.assert_allclose(out.numpy(), torch.special.erfcx(torch.tensor([-1.0, 0.5, 20.0])).numpy(), rtol=2e-6)


# -- bit shifts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
def test_shift_operators_match_torch_including_past_the_width(dtype):
    bits = torch.iinfo(getattr(torch, dtype)).bits
    a = [1, 5, 100, 3, 7, 2] if dtype == "uint8" else [1, -5, 100, -128, 7, -1]
    s = [0, 1, bits - 1, bits, bits + 3, 2]
    x, y = nr.tensor(a, dtype=getattr(nr, dtype)), nr.tensor(s, dtype=getattr(nr, dtype))
    tx, ty = torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(s, dtype=getattr(torch, dtype))
    assert (x << y).tolist() == (tx << ty).tolist()
    assert (x >> y).tolist() == (tx >> ty).tolist()


def test_reflected_shifts_take_a_number_on_the_left():
    x, tx = nr.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    assert (3 << x).tolist() == (3 << tx).tolist() and (64 >> x).tolist() == (64 >> tx).tolist()


def test_in_place_shift_operators_write_into_the_tensor():
    x = nr.tensor([1, 2, -8], dtype=nr.int16)
    alias = x
    x <<= 2
    x >>= 1
    assert x is alias and x.tolist() == [2, 4, -16]


def test_shift_functions_and_methods_match_torch():
    x, tx = nr.tensor([-9, 17]), torch.tensor([-9, 17])
    assert nr.bitwise_left_shift(x, 3).tolist() == torch.bitwise_left_shift(tx, 3).tolist()
    assert x.bitwise_right_shift(2).tolist() == tx.bitwise_right_shift(2).tolist()
    assert x.bitwise_left_shift_(1) is x and x.tolist() == [-18, 34]


def test_shifting_a_float_raises_dtype_error():
    with pytest.raises(DTypeError, match="bitwise_left_shift"):
        nr.tensor([1.0]) << 1


# -- top-level in-place functions, constants -----------------------------------------------------

def _torch_in_place_names_with_methods() -> list[str]:
    probe = nr.zeros(1)
    return [n for n in dir(torch) if n.endswith("_") and not n.startswith("_") and hasattr(probe, n)]


def test_every_torch_in_place_function_with_a_tensor_method_is_top_level():
    missing = [n for n in _torch_in_place_names_with_methods() if not callable(getattr(nr, n, None))]
    assert not missing and "clamp_" in dir(nr)


@pytest.mark.parametrize("name,args", [("abs_", ()), ("sigmoid_", ()), ("exp_", ()), ("clamp_", (-0.5, 0.5)),
                                       ("fill_", (3.0,)), ("threshold_", (0.1, 9.0)), ("relu_", ()), ("zero_", ())])
def test_top_level_in_place_function_updates_input_like_torch(name, args):
    x, tx = nr.tensor([-1.0, 0.25, 2.0]), torch.tensor([-1.0, 0.25, 2.0])
    assert getattr(nr, name)(x, *args) is x
    getattr(torch, name)(tx, *args)
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-6)


def test_top_level_in_place_function_refuses_a_non_tensor():
    with pytest.raises(SignatureError, match="exp_"):
        nr.exp_([1.0])


def test_constants_are_torch_constants():
    assert (nr.pi, nr.e, nr.inf) == (torch.pi, torch.e, torch.inf) and math.isnan(nr.nan)
    assert nr.newaxis is None and nr.zeros(2)[nr.newaxis].shape == (1, 2)


# -- the default device --------------------------------------------------------------------------

@pytest.fixture
def restore_default_device():
    yield
    nr.set_default_device(None)


def test_default_device_round_trips(restore_default_device):
    nr.set_default_device("cpu")
    assert nr.get_default_device() == nr.device("cpu") and str(nr.get_default_device()) == str(torch.get_default_device())
    assert nr.ones(2).device == nr.device("cpu")


def test_factories_use_the_default_device(restore_default_device):
    nr.set_default_device(nr.device("cpu"))
    made = [nr.zeros(2), nr.ones(2), nr.empty(2), nr.full((2,), 1.0), nr.tensor([1.0]), nr.arange(3), nr.rand(2),
            nr.randn(2), nr.eye(2), nr.linspace(0, 1, 3)]
    assert all(t.device == nr.device("cpu") for t in made)


def test_default_device_to_a_missing_gpu_fails_at_creation(restore_default_device):
    nr.set_default_device("cuda")
    if not nr.cuda.is_available():
        with pytest.raises(DeviceError):
            nr.zeros(2)
    nr.set_default_device(None)
    assert nr.zeros(2).device == nr.device("cpu") and nr.get_default_device() == nr.device("cpu")


def test_invalid_default_device_raises_and_keeps_the_old_one(restore_default_device):
    with pytest.raises(DeviceError, match="tpu"):
        nr.set_default_device("tpu")
    assert nr.get_default_device() == nr.device("cpu")


# -- rrelu ---------------------------------------------------------------------------------------

def test_rrelu_in_place_eval_matches_torch():
    x, tx = nr.tensor([-2.0, 0.0, 3.0]), torch.tensor([-2.0, 0.0, 3.0])
    assert F.rrelu_(x, 0.2, 0.4) is x
    torch.nn.functional.rrelu_(tx, 0.2, 0.4)
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-6)


def test_rrelu_in_place_training_gradient_is_the_slope_used():
    leaf = nr.tensor([-2.0, -1.0, 3.0], requires_grad=True)
    x = leaf * 1.0
    out = F.rrelu_(x, 0.1, 0.3, training=True)
    slopes = (out / leaf).detach()
    out.sum().backward()
    assert out is x and all(0.1 <= s <= 0.3 for s in slopes.tolist()[:2])
    np.testing.assert_allclose(leaf.grad.numpy(), slopes.numpy(), rtol=1e-6)


def test_rrelu_top_level_and_module_inplace():
    x = nr.tensor([-4.0, 1.0])
    assert nr.rrelu(x, 0.25, 0.25).tolist() == [-1.0, 1.0] and x.tolist() == [-4.0, 1.0]
    assert nr.rrelu_(x, 0.5, 0.5) is x and x.tolist() == [-2.0, 1.0]
    y = nr.tensor([-4.0, 1.0])
    nr.nn.RReLU(0.25, 0.25, inplace=True).eval()(y)
    assert y.tolist() == [-1.0, 1.0] and hasattr(torch, "rrelu_")
