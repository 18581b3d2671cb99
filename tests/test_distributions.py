"""nr.distributions against torch.distributions: values and parameter gradients of log_prob, entropy,
moments and cdf/icdf; sample shapes; seeded sample statistics; KL divergences; validation errors.

Each case builds the same distribution in both libraries from the same float64 parameters (the
constructor is written once, against the shared API).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributions as TD

import neurarust as nr
from neurarust import distributions as ND
from neurarust.errors import NeuraRustError


def f64(*values):
    return np.array(values, dtype=np.float64)


# name -> (constructor(D, *params), params, log_prob value, icdf value or None, torch has a cdf)
CASES = {
    "Normal": (lambda D, a, b: D.Normal(a, b), [f64(0.0, 1.5, -2.0), f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, -4.0), True),
    "Uniform": (lambda D, a, b: D.Uniform(a, b), [f64(0.0, -1.0, 2.0), f64(1.0, 3.0, 5.0)], f64(0.5, 0.0, 4.9), True),
    "Exponential": (lambda D, r: D.Exponential(r), [f64(0.5, 1.0, 3.0)], f64(0.1, 2.0, 0.5), True),
    "Laplace": (lambda D, a, b: D.Laplace(a, b), [f64(0.0, 1.5, -2.0), f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, -4.0), True),
    "Cauchy": (lambda D, a, b: D.Cauchy(a, b), [f64(0.0, 1.5, -2.0), f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, -4.0), True),
    "LogNormal": (lambda D, a, b: D.LogNormal(a, b), [f64(0.0, 0.5, -1.0), f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, 4.0),
                  True),
    "Bernoulli-probs": (lambda D, p: D.Bernoulli(probs=p), [f64(0.2, 0.5, 0.9)], f64(0.0, 1.0, 1.0), False),
    "Bernoulli-logits": (lambda D, lg: D.Bernoulli(logits=lg), [f64(-1.0, 0.0, 2.0)], f64(0.0, 1.0, 1.0), False),
    "Geometric-probs": (lambda D, p: D.Geometric(probs=p), [f64(0.2, 0.5, 0.9)], f64(0.0, 3.0, 1.0), False),
    "Geometric-logits": (lambda D, lg: D.Geometric(logits=lg), [f64(-1.0, 0.0, 2.0)], f64(0.0, 3.0, 1.0), False),
    "Poisson": (lambda D, r: D.Poisson(r), [f64(0.5, 2.0, 7.0)], f64(0.0, 3.0, 5.0), False),
    "Categorical-probs": (lambda D, p: D.Categorical(probs=p), [np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])],
                          f64(2, 0), False),
    "Categorical-logits": (lambda D, lg: D.Categorical(logits=lg), [np.array([[0.2, -1.0, 3.0], [0.0, 1.0, 0.5]])],
                           f64(1, 0), False),
    "OneHotCategorical": (lambda D, p: D.OneHotCategorical(probs=p), [np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])],
                          np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), False),
    "Independent-Normal": (lambda D, a, b: D.Independent(D.Normal(a, b), 1),
                           [np.array([[0.0, 1.0], [2.0, -1.0]]), np.array([[1.0, 0.5], [2.0, 3.0]])],
                           np.array([[0.3, 0.2], [1.0, 0.0]]), False),
}
ICDF_AT = f64(0.1, 0.5, 0.85)
CONTINUOUS = ["Normal", "Uniform", "Exponential", "Laplace", "Cauchy", "LogNormal"]


def _build(name):
    """(nr distribution, torch distribution, nr params, torch params), params leaves requiring grad."""
    make, params, _, _ = CASES[name]
    nr_params = [nr.tensor(p, requires_grad=True) for p in params]
    t_params = [torch.tensor(p, requires_grad=True) for p in params]
    return make(ND, *nr_params), make(TD, *t_params), nr_params, t_params


def _value(name, lib):
    value = CASES[name][2]
    if name.startswith("Categorical"):
        return nr.tensor(value.astype(np.int64)) if lib is nr else torch.tensor(value.astype(np.int64))
    return nr.tensor(value) if lib is nr else torch.tensor(value)


def _assert_same(actual, expected, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(actual.detach().tolist(), dtype=np.float64),
                               expected.detach().numpy().astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)


def _assert_same_with_grads(nr_out, t_out, nr_params, t_params):
    """Values equal, and the gradients of their sum w.r.t. every parameter too."""
    _assert_same(nr_out, t_out)
    if not t_out.requires_grad:
        return
    weights = np.linspace(0.5, 1.5, t_out.numel()).reshape(tuple(t_out.shape))
    (nr_out * nr.tensor(weights)).sum().backward()
    (t_out * torch.tensor(weights)).sum().backward()
    for a, b in zip(nr_params, t_params):
        assert (a.grad is None) == (b.grad is None)
        if b.grad is not None:
            _assert_same(a.grad, b.grad)


# ----------------------------------------------------------------------------------------------
# log_prob, entropy, moments, cdf/icdf: values and gradients
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_log_prob_and_its_gradients_match_torch(name):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(nd.log_prob(_value(name, nr)), td.log_prob(_value(name, torch)), nr_params, t_params)


@pytest.mark.parametrize("name", [n for n in CASES if n != "Poisson"])
def test_entropy_and_its_gradients_match_torch(name):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(nd.entropy(), td.entropy(), nr_params, t_params)


@pytest.mark.parametrize("moment", ["mean", "variance", "stddev", "mode"])
@pytest.mark.parametrize("name", CASES)
def test_moments_match_torch(name, moment):
    nd, td, _, _ = _build(name)
    _assert_same(getattr(nd, moment), getattr(td, moment))


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][3]])
def test_cdf_and_its_gradients_match_torch(name):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(nd.cdf(_value(name, nr)), td.cdf(_value(name, torch)), nr_params, t_params)


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][3]])
def test_icdf_and_its_gradients_match_torch(name):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(nd.icdf(nr.tensor(ICDF_AT)), td.icdf(torch.tensor(ICDF_AT)), nr_params, t_params)


@pytest.mark.parametrize("name", ["Bernoulli-probs", "Categorical-probs", "OneHotCategorical"])
def test_enumerate_support_matches_torch(name):
    nd, td, _, _ = _build(name)
    _assert_same(nd.enumerate_support(), td.enumerate_support())
    _assert_same(nd.enumerate_support(expand=False), td.enumerate_support(expand=False))


# ----------------------------------------------------------------------------------------------
# shapes: batch/event shapes, sample/rsample with sample_shape, broadcasting, expand
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_shapes_of_samples_match_torch(name):
    nd, td, _, _ = _build(name)
    assert (tuple(nd.batch_shape), tuple(nd.event_shape)) == (tuple(td.batch_shape), tuple(td.event_shape))
    for shape in [(), (4,), (2, 3)]:
        assert tuple(nd.sample(shape).shape) == tuple(td.sample(shape).shape)
    assert nd.has_rsample == td.has_rsample


@pytest.mark.parametrize("name", [n for n in CASES if _build(n)[1].has_rsample])
def test_rsample_is_reparameterised_so_gradients_reach_every_parameter(name):
    nd, _, nr_params, _ = _build(name)
    draw = nd.rsample((5,))
    assert tuple(draw.shape) == (5,) + tuple(nd.batch_shape) + tuple(nd.event_shape)
    draw.sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.tolist()).all() for p in nr_params)


def test_normal_rsample_gradients_are_those_of_loc_plus_scale_times_noise():
    loc, scale = nr.tensor([1.0, -2.0], requires_grad=True), nr.tensor([0.5, 3.0], requires_grad=True)
    x = ND.Normal(loc, scale).rsample((6,))
    x.sum().backward()
    noise = (x.detach() - loc.detach()) / scale.detach()
    assert loc.grad.tolist() == [6.0, 6.0]
    np.testing.assert_allclose(scale.grad.tolist(), noise.sum(0).tolist(), rtol=1e-5)


def test_sample_is_detached_from_the_parameters():
    loc = nr.tensor([0.0, 1.0], requires_grad=True)
    assert not ND.Normal(loc, 1.0).sample((3,)).requires_grad


def test_parameters_broadcast_like_torch():
    nd = ND.Normal(nr.zeros(2, 1), nr.ones(3))
    td = TD.Normal(torch.zeros(2, 1), torch.ones(3))
    assert tuple(nd.batch_shape) == tuple(td.batch_shape) == (2, 3)
    assert tuple(ND.Uniform(0.0, nr.tensor([1.0, 2.0])).low.shape) == (2,)


def test_number_parameters_take_the_dtype_of_the_tensor_parameters():
    d = ND.Normal(nr.zeros(2, dtype=nr.float64), 1)
    assert d.scale.dtype == nr.float64 and d.sample().dtype == nr.float64


@pytest.mark.parametrize("name", CASES)
def test_expand_broadcasts_the_batch_and_keeps_log_prob(name):
    nd, td, _, _ = _build(name)
    batch = (2,) + tuple(nd.batch_shape)
    expanded, t_expanded = nd.expand(batch), td.expand(batch)
    assert tuple(expanded.batch_shape) == tuple(t_expanded.batch_shape)
    assert tuple(expanded.sample((3,)).shape) == tuple(t_expanded.sample((3,)).shape)
    _assert_same(expanded.log_prob(_value(name, nr)), t_expanded.log_prob(_value(name, torch)))


def test_log_prob_broadcasts_a_value_against_the_batch():
    nd, td = ND.Normal(nr.tensor([0.0, 1.0]), 1.0), TD.Normal(torch.tensor([0.0, 1.0]), 1.0)
    value = np.array([[0.5], [-1.0], [2.0]], dtype=np.float32)
    _assert_same(nd.log_prob(nr.tensor(value)), td.log_prob(torch.tensor(value)), rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# sample statistics (seeded: deterministic)
# ----------------------------------------------------------------------------------------------

STATS = {
    "Normal": lambda: ND.Normal(nr.tensor([1.0, -3.0]), nr.tensor([0.5, 2.0])),
    "Uniform": lambda: ND.Uniform(nr.tensor([0.0, -2.0]), nr.tensor([1.0, 6.0])),
    "Exponential": lambda: ND.Exponential(nr.tensor([0.5, 4.0])),
    "Laplace": lambda: ND.Laplace(nr.tensor([1.0, -3.0]), nr.tensor([0.5, 2.0])),
    "LogNormal": lambda: ND.LogNormal(nr.tensor([0.0, -1.0]), nr.tensor([0.5, 0.25])),
    "Bernoulli": lambda: ND.Bernoulli(nr.tensor([0.1, 0.7])),
    "Geometric": lambda: ND.Geometric(nr.tensor([0.3, 0.8])),
    "Poisson": lambda: ND.Poisson(nr.tensor([0.5, 20.0])),
    "Categorical": lambda: ND.Categorical(nr.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])),
    "OneHotCategorical": lambda: ND.OneHotCategorical(nr.tensor([0.2, 0.3, 0.5])),
}


def _categorical_moments(d):
    k = nr.arange(3, dtype=nr.float32)
    mean = (d.probs * k).sum(-1)
    return mean, (d.probs * k ** 2).sum(-1) - mean ** 2


@pytest.mark.parametrize("name", STATS)
def test_sample_mean_and_variance_are_close_to_the_distributions(name):
    nr.manual_seed(0)
    d = STATS[name]()
    x = d.sample((4000,)).to(nr.float64)
    mean, var = _categorical_moments(d) if name == "Categorical" else (d.mean, d.variance)
    sd = np.sqrt(np.asarray(var.tolist()))
    # 5 standard errors for the mean; 15% for the variance (4000 draws: ~2-5% typical)
    np.testing.assert_array_less(np.abs(np.asarray(x.mean(0).tolist()) - np.asarray(mean.tolist())),
                                 5 * sd / np.sqrt(4000) + 1e-9)
    np.testing.assert_allclose(x.var(0).tolist(), var.tolist(), rtol=0.15)


def test_cauchy_samples_have_the_right_quartiles():
    nr.manual_seed(0)
    x = np.asarray(ND.Cauchy(2.0, 3.0).sample((4000,)).tolist())
    np.testing.assert_allclose(np.quantile(x, [0.25, 0.5, 0.75]), [-1.0, 2.0, 5.0], atol=0.4)


def test_samples_are_reproducible_after_manual_seed():
    d = ND.Normal(nr.zeros(3), 1.0)
    nr.manual_seed(5)
    first = d.sample((2,)).tolist()
    nr.manual_seed(5)
    assert d.sample((2,)).tolist() == first


def test_poisson_refuses_to_sample_rates_its_sampler_cannot_draw_exactly():
    with pytest.raises(ValueError, match="rates up to"):
        ND.Poisson(1000.0).sample()


# ----------------------------------------------------------------------------------------------
# KL divergence
# ----------------------------------------------------------------------------------------------

KL_PAIRS = {
    "Normal": (lambda D, a, b: D.Normal(a, b), [f64(0.0, 1.0), f64(1.0, 2.0)], [f64(0.5, -1.0), f64(2.0, 0.5)]),
    "Bernoulli": (lambda D, p: D.Bernoulli(p), [f64(0.2, 0.7)], [f64(0.5, 0.1)]),
    "Categorical": (lambda D, p: D.Categorical(p), [np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])],
                    [np.array([[0.4, 0.4, 0.2], [0.1, 0.1, 0.8]])]),
    "Uniform": (lambda D, a, b: D.Uniform(a, b), [f64(0.0, 1.0), f64(1.0, 2.0)], [f64(-1.0, 0.0), f64(2.0, 5.0)]),
    "Exponential": (lambda D, r: D.Exponential(r), [f64(0.5, 3.0)], [f64(2.0, 1.0)]),
    "Laplace": (lambda D, a, b: D.Laplace(a, b), [f64(0.0, 1.0), f64(1.0, 2.0)], [f64(0.5, -1.0), f64(2.0, 0.5)]),
    "OneHotCategorical": (lambda D, p: D.OneHotCategorical(p), [f64(0.2, 0.3, 0.5)], [f64(0.4, 0.4, 0.2)]),
    "Independent": (lambda D, a, b: D.Independent(D.Normal(a, b), 1), [f64(0.0, 1.0), f64(1.0, 2.0)],
                    [f64(0.5, -1.0), f64(2.0, 0.5)]),
}


@pytest.mark.parametrize("name", KL_PAIRS)
def test_kl_divergence_and_its_gradients_match_torch(name):
    make, p_params, q_params = KL_PAIRS[name]
    nr_params = [nr.tensor(v, requires_grad=True) for v in p_params + q_params]
    t_params = [torch.tensor(v, requires_grad=True) for v in p_params + q_params]
    n = len(p_params)
    nr_kl = ND.kl_divergence(make(ND, *nr_params[:n]), make(ND, *nr_params[n:]))
    t_kl = TD.kl_divergence(make(TD, *t_params[:n]), make(TD, *t_params[n:]))
    _assert_same_with_grads(nr_kl, t_kl, nr_params, t_params)


@pytest.mark.parametrize("p,q", [((0.0, 1.0), (0.5, 2.0)), ((0.0, 3.0), (0.0, 1.0))])
def test_kl_of_uniforms_is_infinite_where_q_misses_part_of_ps_support(p, q):
    assert ND.kl_divergence(ND.Uniform(*p), ND.Uniform(*q)).item() == TD.kl_divergence(
        TD.Uniform(*p), TD.Uniform(*q)).item() == float("inf")


def test_kl_of_bernoullis_with_a_zero_probability_matches_torch():
    probs_p, probs_q = f64(0.0, 1.0, 0.5), f64(0.3, 0.3, 1.0)
    _assert_same(ND.kl_divergence(ND.Bernoulli(nr.tensor(probs_p)), ND.Bernoulli(nr.tensor(probs_q))),
                 TD.kl_divergence(TD.Bernoulli(torch.tensor(probs_p)), TD.Bernoulli(torch.tensor(probs_q))))


def test_kl_of_an_unregistered_pair_raises_not_implemented():
    with pytest.raises(NotImplementedError, match="Normal.*Laplace"):
        ND.kl_divergence(ND.Normal(0.0, 1.0), ND.Laplace(0.0, 1.0))


def test_register_kl_dispatches_to_the_most_specific_pair():
    class Unit(ND.Normal):
        pass

    @ND.register_kl(Unit, ND.Normal)
    def _kl(p, q):
        return nr.full(tuple(p.batch_shape), 7.0)

    assert ND.kl_divergence(Unit(0.0, 1.0), ND.Normal(0.0, 2.0)).item() == 7.0
    assert ND.kl_divergence(ND.Normal(0.0, 1.0), Unit(0.0, 1.0)).item() == 0.0  # the Normal-Normal formula


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda D: D.Normal(0.0, -1.0), lambda D: D.Uniform(1.0, 0.0),
                                  lambda D: D.Bernoulli(1.5), lambda D: D.Exponential(0.0),
                                  lambda D: D.Categorical(torch.tensor([-0.5, 1.0]) if D is TD else
                                                          nr.tensor([-0.5, 1.0])),
                                  lambda D: D.Poisson(-1.0), lambda D: D.Geometric(0.0)],
                         ids=["Normal-scale", "Uniform-order", "Bernoulli-probs", "Exponential-rate",
                              "Categorical-simplex", "Poisson-rate", "Geometric-probs"])
def test_invalid_parameters_raise_a_value_error_like_torch(make):
    with pytest.raises(ValueError):
        make(TD)
    with pytest.raises(ValueError) as info:
        make(ND)
    assert isinstance(info.value, NeuraRustError)


def test_the_parameter_error_names_the_parameter_and_constraint_as_torch_does():
    with pytest.raises(ValueError, match=r"Expected parameter scale .* to satisfy the constraint GreaterThan"):
        ND.Normal(0.0, -1.0)


@pytest.mark.parametrize("make,value", [
    (lambda D: D.Exponential(1.0), -1.0), (lambda D: D.Uniform(0.0, 1.0), 1.5), (lambda D: D.Bernoulli(0.3), 0.5),
    (lambda D: D.Poisson(2.0), 1.5), (lambda D: D.Geometric(0.3), -1.0)],
    ids=["Exponential", "Uniform", "Bernoulli", "Poisson", "Geometric"])
def test_log_prob_outside_the_support_raises_like_torch(make, value):
    with pytest.raises(ValueError):
        make(TD).log_prob(torch.tensor(value))
    with pytest.raises(ValueError, match="within the support") as info:
        make(ND).log_prob(nr.tensor(value))
    assert isinstance(info.value, NeuraRustError)


def test_a_value_that_does_not_broadcast_with_the_batch_raises():
    with pytest.raises(ValueError, match="not broadcastable"):
        ND.Normal(nr.zeros(2), 1.0).log_prob(nr.zeros(3))
    with pytest.raises(ValueError, match="event_shape"):
        ND.OneHotCategorical(nr.tensor([0.5, 0.5])).log_prob(nr.tensor([1.0, 0.0, 0.0]))


def test_log_prob_of_a_non_tensor_raises():
    with pytest.raises(ValueError, match="must be a Tensor"):
        ND.Normal(0.0, 1.0).log_prob(0.5)


def test_validate_args_false_skips_the_checks():
    assert ND.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    assert ND.Exponential(1.0, validate_args=False).log_prob(nr.tensor(-1.0)).item() == 1.0


def test_probs_and_logits_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        ND.Bernoulli(probs=0.5, logits=0.0)
    with pytest.raises(ValueError, match="not both"):
        ND.Categorical()


# ----------------------------------------------------------------------------------------------
# the package
# ----------------------------------------------------------------------------------------------

def test_distributions_load_lazily_as_nr_distributions():
    code = ("import sys, neurarust as nr; assert 'neurarust.distributions' not in sys.modules; "
            "assert nr.distributions.Normal is not None")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_log_normal_is_a_transformed_normal():
    d = ND.LogNormal(0.0, 1.0)
    assert isinstance(d, ND.TransformedDistribution) and isinstance(d.base_dist, ND.Normal)
    assert isinstance(d.transforms[0], ND.ExpTransform)
