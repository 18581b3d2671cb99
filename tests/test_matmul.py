"""matmul / mm / bmm beyond the registry harness: shape rules, out=, the launcher's batch and index
paths, config fitting, the autotuned launch path, and the ahead-of-time compile for sm_80/sm_90."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import neurarust as nr
from neurarust.kernels import matmul as MM

RNG = np.random.default_rng(0)


def _rand(shape, dtype=np.float32):
    return RNG.uniform(-2, 2, size=shape).astype(dtype)


def _triton_matmul(a: np.ndarray, b: np.ndarray, **kw) -> nr.Tensor:
    with nr.backends.using("triton"):
        return nr.matmul(nr.from_numpy(a), nr.from_numpy(b), **kw)


def _assert_matches_numpy(got: nr.Tensor, a: np.ndarray, b: np.ndarray, tol=1e-5) -> None:
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)


# -- shape rules -------------------------------------------------------------------------------

_size = st.integers(1, 3)
_batch = st.lists(st.integers(1, 3), max_size=3).map(tuple)


@given(st.booleans(), st.booleans(), _batch, _batch, _size, _size, _size, _size)
def test_plan_matches_numpy_shape_rules(a_1d, b_1d, a_batch, b_batch, m, k, k2, n):
    a = (k,) if a_1d else a_batch + (m, k)
    b = (k2,) if b_1d else b_batch + (k2, n)
    try:
        want = np.matmul(np.zeros(a), np.zeros(b)).shape
    except ValueError:
        with pytest.raises(nr.ShapeError, match="x".join(map(str, a))):
            MM.plan("matmul", a, b)
        return
    assert MM.plan("matmul", a, b)[-1] == want


def test_mm_message_names_both_shapes():
    with pytest.raises(nr.ShapeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        nr.mm(nr.ones(2, 3), nr.ones(4, 5))


@pytest.mark.parametrize("fn,a,b", [(nr.mm, (2, 3, 4), (4, 5)), (nr.bmm, (3, 4), (4, 5)),
                                    (nr.bmm, (2, 3, 4), (3, 4, 5))])
def test_mm_and_bmm_reject_other_ranks_and_batches(fn, a, b):
    with pytest.raises(nr.ShapeError):
        fn(nr.ones(*a), nr.ones(*b))


def test_integer_and_mixed_dtypes_raise_dtype_error():
    with pytest.raises(nr.DTypeError, match="floating dtypes only"):
        nr.matmul(nr.ones(2, 2, dtype=nr.int32), nr.ones(2, 2, dtype=nr.int32))
    with pytest.raises(nr.DTypeError, match="float32 and float16"):
        nr.matmul(nr.ones(2, 2), nr.ones(2, 2, dtype=nr.float16))


def test_operator_and_methods():
    a, b = nr.from_numpy(_rand((3, 4))), nr.from_numpy(_rand((4, 2)))
    for got in (a @ b, a.matmul(b), a.mm(b), a.unsqueeze(0).bmm(b.unsqueeze(0))[0]):
        _assert_matches_numpy(got, a.numpy(), b.numpy())


# -- the Triton path ---------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_out_may_be_non_contiguous(backend):
    a, b = _rand((4, 5)), _rand((5, 3))
    out = nr.zeros(3, 4).T
    with nr.backends.using(backend):
        got = nr.matmul(nr.from_numpy(a), nr.from_numpy(b), out=out)
    assert got is out
    _assert_matches_numpy(out, a, b)


def test_out_checks_shape_and_dtype():
    a, b = nr.ones(2, 3), nr.ones(3, 4)
    with pytest.raises(nr.ShapeError, match="out has shape 4x2"):
        nr.matmul(a, b, out=nr.zeros(4, 2))
    with pytest.raises(nr.DTypeError, match="float64"):
        nr.matmul(a, b, out=nr.zeros(2, 4, dtype=nr.float64))


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_out_overlapping_an_input_is_refused(backend):
    """Every input element is read many times (and autotuning reruns the kernel into out)."""
    a = nr.from_numpy(_rand((3, 3)))
    buf = nr.zeros(2, 3, 3)
    b = buf[0]
    b.copy_(a)
    with nr.backends.using(backend):
        for x, y, out in ((a, a, a), (a, b, buf[0]), (buf[0], a, buf[0].T)):
            with pytest.raises(nr.ArgumentError, match="mm"):
                nr.mm(x, y, out=out)
        got = nr.mm(a, b, out=buf[1])  # the same storage, elements apart: fine
    _assert_matches_numpy(got, a.numpy(), b.numpy())


def test_autotune_key_names_the_tensors_gpu(monkeypatch):
    from neurarust import autotune

    monkeypatch.setattr(autotune, "_cuda_name", lambda index: f"GPU{index}")
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.current_device", lambda: 0)
    assert autotune._device_name(1) == "GPU1" and autotune._device_name() == "GPU0"


def test_uncollapsible_batches_loop_on_the_host():
    # Batch (3, 2) where A repeats along dim 1 and B along dim 0: no single batch stride exists.
    a, b = _rand((3, 1, 5, 7)), _rand((2, 7, 4))
    before = nr.backends.launch_counts["matmul"]
    _assert_matches_numpy(_triton_matmul(a, b), a, b)
    assert nr.backends.launch_counts["matmul"] == before + 1


def test_long_batches_are_cut_into_grid_sized_chunks(monkeypatch):
    from neurarust.kernels import matmul_triton as MT

    monkeypatch.setattr(MT, "MAX_GRID_Y", 2)
    a, b = _rand((5, 3, 4)), _rand((5, 4, 2))
    _assert_matches_numpy(_triton_matmul(a, b), a, b)


def test_int64_offsets(monkeypatch):
    from neurarust.kernels import matmul_triton as MT

    monkeypatch.setattr(MT, "_index_dtype", lambda views: MT.tl.int64)
    a, b = _rand((2, 20, 17)), _rand((17, 18))
    _assert_matches_numpy(_triton_matmul(a, b), a, b)


def test_index_dtype_switches_to_int64_past_2_31():
    from neurarust.kernels import matmul_triton as MT
    from neurarust.tensor import Tensor

    small = nr.zeros(1, 2, 2)
    huge = Tensor(small._storage, (1, 2, 2), (0, 2**31, 1), 0, small.dtype)  # never dereferenced
    assert MT._index_dtype([small]) == MT.tl.int32
    assert MT._index_dtype([small, huge]) == MT.tl.int64


@pytest.mark.parametrize("dtype", [np.float16, nr.bfloat16.np])
def test_halves_accumulate_in_fp32(dtype):
    # 64 products of 1.0 + a small term: an fp16 accumulator would lose the small terms.
    a = np.full((2, 64), 1.0 + 2**-7, dtype=dtype)
    b = np.ones((64, 2), dtype=dtype)
    got = _triton_matmul(a, b).numpy().astype(np.float32)
    np.testing.assert_array_equal(got, np.full((2, 2), 64.5, np.float32))  # exact in both dtypes


def test_precision_follows_allow_tf32(monkeypatch):
    from neurarust.kernels import matmul_triton as MT

    assert MT._precision("float32", False, upcast=False) == "ieee"
    assert MT._precision("float32", True, upcast=False) == "tf32"
    assert MT._precision("float16", True, upcast=False) == "ieee"
    assert MM.allow_tf32 is False
    seen = {}
    monkeypatch.setattr(MM, "allow_tf32", True)
    monkeypatch.setattr(MT, "launch", lambda c, a, b, tune, allow_tf32: seen.setdefault("tf32", allow_tf32))
    monkeypatch.setattr(nr.registry.get("matmul"), "_launcher", None)
    with nr.backends.using("triton"):
        nr.matmul(nr.ones(2, 2), nr.ones(2, 2))
    assert seen == {"tf32": True}


@given(st.integers(1, 40), st.integers(0, 40), st.integers(1, 40), st.booleans(), st.booleans())
def test_random_sizes_and_layouts(m, k, n, a_t, b_t):
    a, b = _rand((m, k)), _rand((k, n))
    ta = nr.from_numpy(np.ascontiguousarray(a.T)).T if a_t else nr.from_numpy(a)
    tb = nr.from_numpy(np.ascontiguousarray(b.T)).T if b_t else nr.from_numpy(b)
    with nr.backends.using("triton"):
        got = nr.mm(ta, tb)
    _assert_matches_numpy(got, a, b)


# -- configs and the tuned launch path -----------------------------------------------------------

def test_configs_fit_every_dtype():
    from neurarust.kernels import matmul_triton as MT

    for itemsize, acc in ((2, 4), (4, 4), (8, 8)):
        for cfg in MM.TUNE.configs + [MM.TUNE.default]:
            fit = MT.fit_config(cfg, itemsize)
            shared = fit["num_stages"] * (fit["BLOCK_M"] + fit["BLOCK_N"]) * fit["BLOCK_K"] * itemsize
            assert shared <= MT.SHARED_BUDGET and fit["BLOCK_K"] >= 16
            assert fit["BLOCK_M"] * fit["BLOCK_N"] * acc // 4 <= MT.ACC_REGISTERS[itemsize] * 32 * fit["num_warps"]
    assert MT.fit_config(MM.TUNE.default, 2) == MM.TUNE.default


def test_gpu_launch_path_tunes_once_then_reuses(monkeypatch, tmp_path):
    """The non-interpreter path: autotune times the (fitted) configs once per key, then reuses."""
    from neurarust import autotune
    from neurarust import launch as L

    monkeypatch.setenv("NEURARUST_TUNE_CACHE", str(tmp_path / "tune.json"))
    monkeypatch.setattr(L, "INTERPRET", False)
    monkeypatch.setattr(autotune, "can_time", lambda: True)
    timed = []

    def fake_bench(fn):
        fn()
        timed.append(1)
        return float(len(timed))  # the first config tried wins

    monkeypatch.setattr(autotune, "_do_bench", fake_bench)
    autotune.clear()
    try:
        a, b = _rand((9, 20)), _rand((20, 7))
        _assert_matches_numpy(_triton_matmul(a, b), a, b)
        n_timed = len(timed)
        assert n_timed >= 2
        a, b = _rand((12, 30)), _rand((30, 5))
        _assert_matches_numpy(_triton_matmul(a, b), a, b)
        assert len(timed) == n_timed  # same bucket (16, 8, 32): reused, not timed again
        assert len(autotune._read_file(autotune.cache_path())) == 1
    finally:
        autotune.clear()


# -- the fused addmm family: beta * input + alpha * product -------------------------------------

@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_addmm_out_and_beta_zero_ignores_nan(backend):
    x = nr.tensor([[float("nan"), 1.0]])
    a, b = _rand((3, 4)), _rand((4, 2))
    out = nr.zeros(2, 3).T
    with nr.backends.using(backend):
        got = nr.addmm(x, nr.from_numpy(a), nr.from_numpy(b), beta=0, alpha=2.0, out=out)
    assert got is out
    np.testing.assert_allclose(out.numpy(), 2 * (a.astype(np.float64) @ b), rtol=1e-5, atol=1e-5)


def test_addmm_epilogue_halves_the_register_budget():
    from neurarust.kernels import matmul_triton as MT

    for itemsize in (2, 4, 8):
        plain, fused = MT.fit_config(MM.TUNE.default, itemsize), MT.fit_config(MM.TUNE.default, itemsize, True)
        assert fused["BLOCK_M"] * fused["BLOCK_N"] * 2 == plain["BLOCK_M"] * plain["BLOCK_N"]


def test_addmm_out_overlapping_input_is_refused():
    x = nr.zeros(2, 2)
    with pytest.raises(nr.ArgumentError, match="addmm"):
        nr.addmm(x, nr.ones(2, 3), nr.ones(3, 2), out=x)


def test_fused_and_vector_products_are_tensor_methods():
    x, a, b = nr.ones(2, 2), nr.ones(2, 3), nr.ones(3, 2)
    assert x.addmm(a, b, beta=2).tolist() == [[5.0, 5.0], [5.0, 5.0]]
    assert nr.ones(3).dot(nr.ones(3)).item() == 3.0 and a.mv(nr.ones(3)).tolist() == [3.0, 3.0]


# -- einsum, tensordot, outer -----------------------------------------------------------------

def test_einsum_accepts_a_list_of_operands_and_implicit_output():
    a, b = nr.from_numpy(_rand((2, 3))), nr.from_numpy(_rand((3, 4)))
    want = a.numpy().astype(np.float64) @ b.numpy()
    for got in (nr.einsum("ij,jk", [a, b]), nr.einsum("ij,jk->ik", a, b), nr.einsum("jk,ij", b, a)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_einsum_lowers_each_contraction_to_one_bmm():
    ops = [nr.from_numpy(_rand(s)) for s in ((2, 3), (4, 3, 5), (2, 5))]
    before = nr.backends.launch_counts["matmul"]
    with nr.backends.using("triton"):
        got = nr.einsum("bn,anm,bm->ba", *ops)
    assert nr.backends.launch_counts["matmul"] == before + 2
    want = np.einsum("bn,anm,bm->ba", *[o.numpy().astype(np.float64) for o in ops])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_einsum_parse_orders_implicit_output_alphabetically_after_ellipsis():
    from neurarust.kernels import linalg as LA

    plan = LA.parse("...ba,cb", [(5, 2, 3), (4, 2)])
    assert plan.output == [-1, ord("a"), ord("c")]
    assert LA.letters_equation(plan) == "Aba,cb->Aac"


# -- linalg.qr ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,shape", [("reduced", (2, 3, 2)), ("complete", (3, 2)), ("complete", (2, 3))])
def test_qr_triton_path_is_orthonormal_and_triangular(mode, shape):
    a = np.random.default_rng(1).normal(size=shape)
    with nr.backends.using("triton"):
        q, r = nr.linalg.qr(nr.from_numpy(a), mode=mode)
    q, r = q.numpy(), r.numpy()
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.eye(q.shape[-1]) + 0 * q[..., :1, :1], atol=1e-12)
    np.testing.assert_array_equal(r, np.triu(r))
    np.testing.assert_allclose(q @ r, a, atol=1e-12)
    want_q, want_r = np.linalg.qr(a, mode=mode)
    np.testing.assert_allclose(r, want_r, atol=1e-12)  # LAPACK's signs


def test_qr_leaves_a_triangular_column_alone_as_lapack_does():
    """No reflection where the column is already zero below the diagonal (tau = 0): R keeps its signs."""
    a = np.array([[[2.0, 1.0], [0.0, -3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    with nr.backends.using("triton"):
        q, r = nr.linalg.qr(nr.from_numpy(a))
    want_q, want_r = np.linalg.qr(a)
    np.testing.assert_allclose(q.numpy(), want_q, atol=1e-12)
    np.testing.assert_allclose(r.numpy(), want_r, atol=1e-12)
    assert r.numpy()[0, 0, 0] == 2.0 and r.numpy()[0, 1, 1] == -3.0


@pytest.mark.parametrize("mode,shape", [("r", (3, 2)), ("complete", (3, 2))])
def test_qr_derivative_refuses_what_pytorch_refuses(mode, shape):
    a = nr.tensor(np.eye(*shape) * 2, requires_grad=True)
    with pytest.raises(nr.errors.AutogradError, match="linalg.qr|QR"):
        nr.linalg.qr(a, mode=mode)[1].sum().backward()


def test_linalg_namespace_lists_and_resolves_registry_ops():
    assert "qr" in dir(nr.linalg) and nr.linalg.qr is nr.registry.get("linalg.qr")
    with pytest.raises(AttributeError, match="nope"):
        nr.linalg.nope


# -- allclose, equal ------------------------------------------------------------------------------

def test_allclose_and_equal_return_python_bools():
    a = nr.tensor([1.0, float("nan")])
    assert nr.allclose(a, a) is False and nr.allclose(a, a, equal_nan=True) is True
    assert nr.equal(a, a) is False and nr.equal(nr.ones(2), nr.ones(3)) is False
    assert nr.equal(nr.tensor([1, 2]), nr.tensor([1.0, 2.0])) is True


# -- derivatives (finite differences, float64, reference backend) ---------------------------------

def _gradcheck(fn, *shapes):
    from neurarust.autograd import gradcheck

    rng = np.random.default_rng(2)
    inputs = [nr.tensor(rng.uniform(-1, 1, size=s), dtype=nr.float64, requires_grad=True) for s in shapes]
    assert gradcheck(fn, tuple(inputs))


# Beyond the autograd harness's first samples: 1-D operands of batched products, addbmm's batch
# sum, and tensordot with negative dims.
@pytest.mark.parametrize("fn,shapes", [
    (nr.matmul, [(3,), (2, 3, 4)]),
    (nr.matmul, [(2, 1, 3, 4), (4,)]),
    (lambda x, a, b: nr.addbmm(x, a, b, beta=0.5, alpha=-2), [(2, 3), (3, 2, 4), (3, 4, 3)]),
    (lambda a, b: nr.tensordot(a, b, dims=([-1, 0], [0, 1])), [(2, 3, 4), (4, 2, 3)]),
], ids=["vec_batch", "batch_vec", "addbmm", "tensordot"])
def test_product_derivatives(fn, shapes):
    _gradcheck(fn, *shapes)


@pytest.mark.parametrize("equation,shapes", [
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("...ij,...jk", [(2, 1, 3, 2), (3, 2, 4)]),
    ("iij->ji", [(2, 2, 3)]),
    ("ij,ij->i", [(3, 4), (1, 4)]),
    ("ii,ij->j", [(3, 3), (3, 2)]),
])
def test_einsum_derivatives(equation, shapes):
    _gradcheck(lambda *ops: nr.einsum(equation, *ops), *shapes)
