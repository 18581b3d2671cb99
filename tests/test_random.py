"""Random ops: Philox itself, the same numbers on both backends, the state API, the distributions.

The registry harness (test_ops.py) already runs every random entry on both backends after the same
seed; here: bit-identity (not just closeness), independence from the launch grid, generator state,
and statistics. Statistical checks use large draws on the reference backend (cheap in NumPy) and
6-sigma bounds: with a fixed seed they are deterministic, and no honest seed fails them.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
from neurarust.kernels import random as R

# ----------------------------------------------------------------------------------------------
# Philox
# ----------------------------------------------------------------------------------------------

# Known-answer vectors of Philox4x32-10 (Random123's kat_vectors): counter, key, result.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_numpy_philox_matches_known_answers(counter, key, expected):
    words = R.philox4x32(*(np.array([c], np.uint32) for c in counter), *key)
    assert tuple(int(w[0]) for w in words) == expected


def test_numpy_philox_matches_tritons_own_philox():
    """Triton's library Philox (tl.randint4x: the same counter layout) agrees with the NumPy twin."""
    import torch

    from neurarust.launch import tl, triton

    @triton.jit
    def words_kernel(out_ptr, seed, N: tl.constexpr):
        c = tl.arange(0, N).to(tl.int64) + 4294967290  # crosses into the counter's high word
        r0, r1, r2, r3 = tl.randint4x(seed, c)
        rows = tl.arange(0, N) * 4
        tl.store(out_ptr + rows, r0.to(tl.int32, bitcast=True))
        tl.store(out_ptr + rows + 1, r1.to(tl.int32, bitcast=True))
        tl.store(out_ptr + rows + 2, r2.to(tl.int32, bitcast=True))
        tl.store(out_ptr + rows + 3, r3.to(tl.int32, bitcast=True))

    seed = 0x1234_5678_9ABC
    out = torch.zeros(8 * 4, dtype=torch.int32)
    words_kernel[(1,)](out, seed, N=8)
    ours = R.philox_words(seed, np.arange(8, dtype=np.uint64) + np.uint64(4294967290))
    np.testing.assert_array_equal(out.numpy().view(np.uint32).reshape(8, 4), np.stack(ours, axis=1))


# ----------------------------------------------------------------------------------------------
# Both backends draw the same numbers
# ----------------------------------------------------------------------------------------------

def _both(fn, seed: int = 123):
    results = []
    for backend in ("reference", "triton"):
        nr.manual_seed(seed)
        with nr.backends.using(backend):
            results.append(fn().numpy().copy())
    return results


EXACT = {
    "rand_f32": lambda: nr.rand(1500),
    "rand_f64": lambda: nr.rand(40, dtype=nr.float64),
    "rand_f16": lambda: nr.rand(40, dtype=nr.float16),
    "rand_bf16": lambda: nr.rand(40, dtype=nr.bfloat16),
    "randint_i64": lambda: nr.randint(-(2**40), 2**40, (50,)),
    "randint_u8": lambda: nr.randint(0, 256, (50,), dtype=nr.uint8),
    "randint_f16": lambda: nr.randint(-2048, 2049, (50,), dtype=nr.float16),
    "randperm": lambda: nr.randperm(77),
    "bernoulli_tensor": lambda: nr.bernoulli(nr.rand(60)),
    "bernoulli_scalar": lambda: nr.zeros(60, dtype=nr.int8).bernoulli_(0.3),
    "multinomial": lambda: nr.multinomial(nr.tensor([[1.0, 0.0, 3.0, 2.5], [0.5, 2.0, 2.0, 1.0]]), 3),
    "multinomial_replace": lambda: nr.multinomial(nr.tensor([0.1, 0.2, 0.3, 0.4], dtype=nr.float64), 30, True),
    "uniform_f32": lambda: nr.zeros(8, 5).t().uniform_(-2.5, 3.0),
    "uniform_f64": lambda: nr.zeros(30, dtype=nr.float64).uniform_(1.0, 1.1),
    "random_i32": lambda: nr.zeros(30, dtype=nr.int32).random_(),
    "random_f32": lambda: nr.zeros(30).random_(-10, 10),
}


@pytest.mark.parametrize("name", list(EXACT))
def test_backends_draw_bit_identical_values(name):
    ref, tri = _both(EXACT[name])
    assert ref.dtype == tri.dtype
    np.testing.assert_array_equal(ref.view(np.uint8), tri.view(np.uint8))


CLOSE = {  # log/sqrt/cos: identical in the interpreter, within TRANSCENDENTAL_TOLERANCE on a GPU
    "randn_f32": (lambda: nr.randn(1500), nr.float32),
    "randn_f64": (lambda: nr.randn(40, dtype=nr.float64), nr.float64),
    "randn_bf16": (lambda: nr.randn(40, dtype=nr.bfloat16), nr.bfloat16),
    "normal_tensors": (lambda: nr.normal(nr.arange(6.0).view(2, 3), nr.tensor([0.5, 1.0, 2.0])), nr.float32),
    "normal_": (lambda: nr.zeros(4, 6, dtype=nr.float64)[:, ::2].normal_(3.0, 0.5), nr.float64),
    "exponential_": (lambda: nr.zeros(50).exponential_(0.5), nr.float32),
}


@pytest.mark.parametrize("name", list(CLOSE))
def test_backends_draw_close_normals(name):
    fn, d = CLOSE[name]
    ref, tri = _both(fn)
    tol = R.TRANSCENDENTAL_TOLERANCE[d]
    np.testing.assert_allclose(tri.astype(np.float64), ref.astype(np.float64), rtol=tol, atol=tol)


def test_values_do_not_depend_on_block_sizes(monkeypatch):
    from neurarust.kernels import random_triton as T

    default = _both(lambda: nr.randn(300))[1], _both(lambda: nr.randperm(90))[1]
    monkeypatch.setattr(T, "BLOCK", 128)
    monkeypatch.setattr(T, "RANK_BLOCKS", (16, 32))
    smaller = _both(lambda: nr.randn(300))[1], _both(lambda: nr.randperm(90))[1]
    for a, b in zip(default, smaller):
        np.testing.assert_array_equal(a, b)


def test_element_i_uses_counter_offset_plus_i():
    """A draw of n values after k consumed counters is the tail of one draw of k + n values."""
    nr.manual_seed(5)
    whole = nr.rand(10).tolist()
    nr.manual_seed(5)
    nr.rand(2, 2)
    assert nr.rand(6).tolist() == whole[4:]


# ----------------------------------------------------------------------------------------------
# Generator state
# ----------------------------------------------------------------------------------------------

def test_state_is_seed_and_offset_bytes():
    nr.manual_seed(258)
    nr.rand(3, 4)
    state = nr.get_rng_state()
    assert state.dtype == nr.uint8 and state.shape == (16,)
    seed, offset = state.numpy().view("<u8")
    assert (int(seed), int(offset)) == (258, 12)


def test_set_rng_state_replays_a_sequence():
    nr.manual_seed(11)
    nr.randn(3)
    state = nr.get_rng_state()

    def sequence():
        return (nr.rand(4).tolist(), nr.randint(0, 50, (5,)).tolist(), nr.randperm(6).tolist(),
                nr.normal(0.0, 2.0, (3,)).tolist(), nr.multinomial(nr.ones(5), 3).tolist())

    first = sequence()
    assert sequence() != first  # the offset moved on
    nr.set_rng_state(state)
    assert sequence() == first


def test_generators_are_independent_of_the_default():
    nr.manual_seed(1)
    before = nr.get_rng_state().tolist()
    g1, g2 = nr.Generator().manual_seed(99), nr.Generator().manual_seed(99)
    a = nr.rand(5, generator=g1).tolist()
    assert nr.get_rng_state().tolist() == before  # the default did not move
    nr.rand(5)
    assert nr.rand(5, generator=g2).tolist() == a  # nor did the default's draws move g2
    assert nr.rand(5, generator=g1).tolist() != a
    assert g1.initial_seed() == 99 and g1.device == nr.device("cpu")
    state = g1.get_state()
    b = nr.randint(0, 9, (8,), generator=g1).tolist()
    assert nr.randint(0, 9, (8,), generator=g1.set_state(state)).tolist() == b


def test_seed_and_initial_seed():
    s = nr.seed()
    assert 0 <= s < 2**64 and nr.initial_seed() == s
    nr.manual_seed(-1)
    assert nr.initial_seed() == 2**64 - 1
    assert nr.manual_seed(3) is nr.default_generator


# ----------------------------------------------------------------------------------------------
# Distributions (reference backend, large draws; 6-sigma bounds)
# ----------------------------------------------------------------------------------------------

N = 40_000


def _check_moments(x: np.ndarray, mean: float, var: float) -> None:
    x = x.astype(np.float64).ravel()
    assert abs(x.mean() - mean) < 6 * np.sqrt(var / x.size), (x.mean(), mean)
    # the sample variance's standard error, for the distributions here, is below 3 * var / sqrt(n)
    assert abs(x.var() - var) < 6 * 3 * var / np.sqrt(x.size), (x.var(), var)


@pytest.mark.parametrize("dtype", [nr.float32, nr.float64, nr.float16, nr.bfloat16])
def test_rand_and_randn_moments(dtype):
    nr.manual_seed(0)
    u = nr.rand(N, dtype=dtype).numpy().astype(np.float64)
    assert u.min() >= 0 and u.max() < 1
    _check_moments(u, 0.5, 1 / 12)
    _check_moments(nr.randn(N, dtype=dtype).numpy(), 0.0, 1.0)


def test_normal_uniform_exponential_moments():
    nr.manual_seed(0)
    _check_moments(nr.normal(3.0, 2.0, (N,)).numpy(), 3.0, 4.0)
    _check_moments(nr.normal(nr.full((N,), -1.0), nr.full((N,), 0.5)).numpy(), -1.0, 0.25)
    x = nr.empty(N, dtype=nr.float64).uniform_(-2.0, 3.0).numpy()
    assert x.min() >= -2 and x.max() < 3
    _check_moments(x, 0.5, 25 / 12)
    e = nr.empty(N).exponential_(2.0).numpy()
    assert e.min() >= 0 and not np.signbit(e).any()
    _check_moments(e, 0.5, 0.25)
    _check_moments(nr.empty(N).normal_(1.0, 3.0).numpy(), 1.0, 9.0)


def _check_frequencies(values: np.ndarray, probs: np.ndarray) -> None:
    counts = np.bincount(values.ravel(), minlength=len(probs))
    expected = probs * values.size
    assert np.all(np.abs(counts - expected) <= 6 * np.sqrt(expected * (1 - probs)) + 1), (counts, expected)


def test_integer_draws_cover_their_range_uniformly():
    nr.manual_seed(0)
    x = nr.randint(-3, 4, (N,)).numpy()
    assert x.min() == -3 and x.max() == 3
    _check_frequencies(x + 3, np.full(7, 1 / 7))
    y = nr.zeros(N, dtype=nr.uint8).random_().numpy()
    assert y.min() == 0 and y.max() == 255
    big = nr.zeros(1000, dtype=nr.int64).random_().numpy()
    assert big.min() >= 0 and big.max() > 2**61
    assert nr.zeros(1000).random_().numpy().max() <= 2**24


def test_bernoulli_frequencies():
    nr.manual_seed(0)
    p = np.linspace(0, 1, 5)
    draws = nr.bernoulli(nr.tensor(np.tile(p, (N // 5, 1)))).numpy()
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert draws[:, 0].sum() == 0 and draws[:, -1].all()
    _check_moments(nr.zeros(N).bernoulli_(0.3).numpy(), 0.3, 0.21)


def test_multinomial_frequencies():
    nr.manual_seed(0)
    w = np.array([1.0, 0.0, 3.0, 4.0, 2.0])
    with_replacement = nr.multinomial(nr.tensor(w), N, replacement=True).numpy()
    _check_frequencies(with_replacement, w / w.sum())
    rows = nr.multinomial(nr.tensor(np.tile(w, (N // 10, 1))), 4).numpy()
    assert all(len(set(r)) == 4 and 1 not in r for r in rows.tolist())  # distinct, never weight 0
    _check_frequencies(rows[:, 0], w / w.sum())  # the first draw follows the weights


def test_randperm_is_a_permutation():
    nr.manual_seed(0)
    for n in (0, 1, 1000):
        assert sorted(nr.randperm(n).tolist()) == list(range(n))
    with nr.backends.using("triton"):
        assert sorted(nr.randperm(70, dtype=nr.float32).tolist()) == list(range(70))
    first = np.array([nr.randperm(4).tolist()[0] for _ in range(400)])
    _check_frequencies(first, np.full(4, 0.25))


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------

ERRORS = {
    "negative_size": (lambda: nr.rand(2, -3), ValueError),
    "float_size": (lambda: nr.randn(2.5), TypeError),
    "integer_rand": (lambda: nr.rand(2, dtype=nr.int32), TypeError),
    "randint_empty_range": (lambda: nr.randint(3, 3, (2,)), ValueError),
    "randint_dtype_range": (lambda: nr.randint(0, 256, (2,), dtype=nr.int8), ValueError),
    "randint_span": (lambda: nr.randint(-(2**63), 2**63 - 1, (2,)), ValueError),
    "probability_above_one": (lambda: nr.bernoulli(nr.tensor([0.2, 1.01])), ValueError),
    "probability_below_zero": (lambda: nr.zeros(3).bernoulli_(-0.1), ValueError),
    "multinomial_too_many": (lambda: nr.multinomial(nr.ones(3), 4), ValueError),
    "multinomial_too_few_nonzero": (lambda: nr.multinomial(nr.tensor([0.0, 1.0, 1.0]), 3), ValueError),
    "multinomial_negative": (lambda: nr.multinomial(nr.tensor([1.0, -0.5]), 1, True), ValueError),
    "negative_std_tensor": (lambda: nr.normal(nr.zeros(2), nr.tensor([1.0, -1.0])), ValueError),
    "negative_std_float": (lambda: nr.zeros(2).normal_(0.0, -2.0), ValueError),
    "exponential_rate": (lambda: nr.zeros(2).exponential_(-1.0), ValueError),
    "uniform_bounds": (lambda: nr.zeros(2).uniform_(1.0, 0.0), ValueError),
    "randperm_negative": (lambda: nr.randperm(-1), ValueError),
    "generator_device": (lambda: nr.rand(2, generator=nr.Generator("cuda:0")), RuntimeError),
    "generator_type": (lambda: nr.rand(2, generator=object()), ValueError),
    "seed_type": (lambda: nr.manual_seed("7"), ValueError),
    "seed_range": (lambda: nr.manual_seed(2**64), ValueError),
    "state_dtype": (lambda: nr.set_rng_state(nr.zeros(16)), TypeError),
    "state_size": (lambda: nr.set_rng_state(nr.zeros(8, dtype=nr.uint8)), ValueError),
    "int_requires_grad": (lambda: nr.randint(0, 3, (2,), requires_grad=True), TypeError),
}


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("name", list(ERRORS))
def test_bad_inputs_raise_neurarust_errors(name, backend):
    fn, error = ERRORS[name]
    with nr.backends.using(backend), pytest.raises(error) as info:
        fn()
    assert isinstance(info.value, nr.NeuraRustError)


def test_random_ops_are_not_differentiable():
    from neurarust.registry import all_ops

    random_ops = [op for op in all_ops() if op.kind == "random"]
    assert len(random_ops) >= 14 and all(op.differentiable == () for op in random_ops)


def test_requires_grad_keyword_marks_a_leaf():
    x = nr.randn(3, requires_grad=True)
    assert x.requires_grad and not nr.rand(3).requires_grad


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_fills_write_in_place_through_views(backend):
    base = nr.zeros(4, 6)
    view = base[:, ::2]
    with nr.backends.using(backend):
        assert view.uniform_(1.0, 2.0) is view and view.random_(3, 4) is view
        assert view.exponential_() is view and view.normal_() is view and view.bernoulli_(1.0) is view
    b = base.numpy()
    assert (b[:, ::2] == 1).all() and (b[:, 1::2] == 0).all()
