"""More of nr.distributions against torch.distributions: MultivariateNormal, the gamma family (Gamma,
Chi2, Beta, Dirichlet, StudentT) and the distributions built from transforms or other
distributions; values and parameter gradients of log_prob, entropy, moments and cdf; shapes; seeded
sample statistics; KL divergences; validation errors.

Each case builds the same distribution in both libraries from the same float64 parameters (the
constructor is written once, against the shared API).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as TD

import neurarust as nr
from neurarust import distributions as ND
from neurarust.errors import NeuraRustError


def f64(*values):
    return np.array(values, dtype=np.float64)


COV = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, -0.3], [-0.3, 0.5]]])
TRIL = np.array([[[1.5, 0.0], [0.4, 0.8]], [[0.7, 0.0], [-0.2, 1.1]]])
LOC2 = np.array([[0.0, 1.0], [-1.0, 0.5]])
VALUE2 = np.array([[0.3, 0.2], [1.0, 0.0]])

# name -> (constructor(D, *params), params, log_prob value, torch has a cdf)
CASES = {
    "MVN-covariance": (lambda D, m, c: D.MultivariateNormal(m, covariance_matrix=c), [LOC2, COV], VALUE2, False),
    "MVN-precision": (lambda D, m, p: D.MultivariateNormal(m, precision_matrix=p), [LOC2, COV], VALUE2, False),
    "MVN-scale_tril": (lambda D, m, s: D.MultivariateNormal(m, scale_tril=s), [LOC2, TRIL], VALUE2, False),
    "Gamma": (lambda D, c, r: D.Gamma(c, r), [f64(0.5, 2.0, 5.0), f64(1.0, 0.5, 3.0)], f64(0.3, 2.0, 1.5), False),
    "Chi2": (lambda D, df: D.Chi2(df), [f64(1.0, 3.0, 7.5)], f64(0.3, 2.0, 6.0), False),
    "Beta": (lambda D, a, b: D.Beta(a, b), [f64(0.5, 2.0, 5.0), f64(1.5, 0.7, 3.0)], f64(0.3, 0.9, 0.5), False),
    "Dirichlet": (lambda D, c: D.Dirichlet(c), [np.array([[0.5, 2.0, 3.0], [1.0, 1.0, 4.0]])],
                  np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]), False),
    "StudentT": (lambda D, df, m, s: D.StudentT(df, m, s), [f64(0.8, 1.5, 6.0), f64(0.0, 1.0, -2.0),
                                                            f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, -4.0), False),
    "Gumbel": (lambda D, a, b: D.Gumbel(a, b), [f64(0.0, 1.5, -2.0), f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, -4.0), True),
    "HalfNormal": (lambda D, s: D.HalfNormal(s), [f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, 4.0), True),
    "HalfCauchy": (lambda D, s: D.HalfCauchy(s), [f64(1.0, 0.5, 2.0)], f64(0.3, 1.0, 4.0), True),
    "Weibull": (lambda D, s, k: D.Weibull(s, k), [f64(1.0, 0.5, 2.0), f64(0.7, 1.0, 3.0)], f64(0.3, 1.0, 4.0), True),
    "Pareto": (lambda D, s, a: D.Pareto(s, a), [f64(1.0, 0.5, 2.0), f64(0.7, 2.5, 3.0)], f64(1.3, 1.0, 4.0), True),
    "Binomial-probs": (lambda D, p: D.Binomial(6, probs=p), [f64(0.2, 0.5, 0.9)], f64(0.0, 3.0, 6.0), False),
    "Binomial-logits": (lambda D, lg: D.Binomial(6, logits=lg), [f64(-1.0, 0.0, 2.0)], f64(0.0, 3.0, 6.0), False),
    "Multinomial": (lambda D, p: D.Multinomial(4, probs=p), [np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])],
                    np.array([[0.0, 1.0, 3.0], [2.0, 2.0, 0.0]]), False),
    "RelaxedBernoulli": (lambda D, t, p: D.RelaxedBernoulli(t, probs=p), [np.array(0.7), f64(0.2, 0.5, 0.9)],
                         f64(0.3, 0.01, 0.9), False),
    "RelaxedOneHotCategorical": (lambda D, t, lg: D.RelaxedOneHotCategorical(t, logits=lg),
                                 [np.array(0.7), np.array([[0.2, -1.0, 3.0], [0.0, 1.0, 0.5]])],
                                 np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]), False),
    "MixtureSameFamily": (lambda D, w, m, s: D.MixtureSameFamily(D.Categorical(w), D.Normal(m, s)),
                          [np.array([[0.2, 0.8], [0.5, 0.5]]), np.array([[-1.0, 1.0], [0.0, 3.0]]),
                           np.array([[0.5, 1.0], [2.0, 0.3]])], f64(0.3, 2.0), True),
}
NO_ENTROPY = {"RelaxedBernoulli", "RelaxedOneHotCategorical", "MixtureSameFamily"}  # none in torch either
NO_MOMENTS = {"RelaxedBernoulli", "RelaxedOneHotCategorical"}
NO_MODE = {"Multinomial", "MixtureSameFamily"}
NO_RSAMPLE_HERE = {"Gamma", "Chi2", "Beta", "Dirichlet", "StudentT"}  # documented difference from torch


def _build(name):
    """(nr distribution, torch distribution, nr params, torch params), params leaves requiring grad."""
    make, params, _, _ = CASES[name]
    nr_params = [nr.tensor(p, requires_grad=True) for p in params]
    t_params = [torch.tensor(p, requires_grad=True) for p in params]
    return make(ND, *nr_params), make(TD, *t_params), nr_params, t_params


def _value(name, lib):
    return lib.tensor(CASES[name][2])


def _assert_same(actual, expected, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(actual.detach().tolist(), dtype=np.float64),
                               expected.detach().numpy().astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)


def _assert_same_with_grads(nr_out, t_out, nr_params, t_params, rtol=1e-6):
    """Values equal, and the gradients of a weighted sum of them w.r.t. every parameter too."""
    _assert_same(nr_out, t_out, rtol=rtol)
    if not t_out.requires_grad:
        return
    weights = np.linspace(0.5, 1.5, t_out.numel()).reshape(tuple(t_out.shape))
    (nr_out * nr.tensor(weights)).sum().backward()
    (t_out * torch.tensor(weights)).sum().backward()
    for a, b in zip(nr_params, t_params):
        assert (a.grad is None) == (b.grad is None)
        if b.grad is not None:
            _assert_same(a.grad, b.grad, rtol=rtol)


# ----------------------------------------------------------------------------------------------
# log_prob, entropy, moments, cdf: values and gradients
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_log_prob_and_its_gradients_match_torch(name):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(nd.log_prob(_value(name, nr)), td.log_prob(_value(name, torch)), nr_params, t_params)


@pytest.mark.parametrize("name", [n for n in CASES if n not in NO_ENTROPY])
def test_entropy_and_its_gradients_match_torch(name):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(nd.entropy(), td.entropy(), nr_params, t_params)


@pytest.mark.parametrize("moment", ["mean", "variance", "stddev", "mode"])
@pytest.mark.parametrize("name", [n for n in CASES if n not in NO_MOMENTS])
def test_moments_and_their_gradients_match_torch(name, moment):
    if moment == "mode" and name in NO_MODE:
        pytest.skip("torch has no mode for it")
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(getattr(nd, moment), getattr(td, moment), nr_params, t_params)


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][3]])
def test_cdf_and_its_gradients_match_torch(name):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(nd.cdf(_value(name, nr)), td.cdf(_value(name, torch)), nr_params, t_params)


# ----------------------------------------------------------------------------------------------
# shapes
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_shapes_of_samples_match_torch(name):
    nd, td, _, _ = _build(name)
    assert (tuple(nd.batch_shape), tuple(nd.event_shape)) == (tuple(td.batch_shape), tuple(td.event_shape))
    for shape in [(), (4,), (2, 3)]:
        assert tuple(nd.sample(shape).shape) == tuple(td.sample(shape).shape)
    assert nd.has_rsample == (td.has_rsample and name not in NO_RSAMPLE_HERE)


@pytest.mark.parametrize("name", CASES)
def test_expand_broadcasts_the_batch_and_keeps_log_prob(name):
    nd, td, _, _ = _build(name)
    batch = (2,) + tuple(nd.batch_shape)
    expanded, t_expanded = nd.expand(batch), td.expand(batch)
    assert tuple(expanded.batch_shape) == tuple(t_expanded.batch_shape)
    assert tuple(expanded.sample((3,)).shape) == tuple(t_expanded.sample((3,)).shape)
    _assert_same(expanded.log_prob(_value(name, nr)), t_expanded.log_prob(_value(name, torch)))


@pytest.mark.parametrize("name", sorted(NO_RSAMPLE_HERE))
def test_the_gamma_family_has_no_rsample_rather_than_a_wrong_gradient(name):
    nd, _, _, _ = _build(name)
    assert not nd.has_rsample
    with pytest.raises(NotImplementedError):
        nd.rsample()


# ----------------------------------------------------------------------------------------------
# MultivariateNormal
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,prop", [(n, p) for n in ("MVN-covariance", "MVN-precision", "MVN-scale_tril")
                                       for p in ("covariance_matrix", "precision_matrix", "scale_tril")
                                       if (n, p) != ("MVN-scale_tril", "precision_matrix")])
def test_mvn_matrix_properties_and_their_gradients_match_torch(name, prop):
    nd, td, nr_params, t_params = _build(name)
    _assert_same_with_grads(getattr(nd, prop), getattr(td, prop), nr_params, t_params)


def test_mvn_precision_from_scale_tril_has_torchs_gradient_on_the_lower_triangle():
    # torch's cholesky_inverse also differentiates the (structurally zero) upper triangle of
    # scale_tril; NeuraRust's, like its solve_triangular, reads only the lower one
    nd, td, nr_params, t_params = _build("MVN-scale_tril")
    _assert_same(nd.precision_matrix, td.precision_matrix)
    nd.precision_matrix.sum().backward()
    td.precision_matrix.sum().backward()
    _assert_same(nr_params[1].grad, t_params[1].grad.tril())


def test_mvn_broadcasts_a_batch_of_locs_against_one_matrix_like_torch():
    loc, cov = np.array([[0.0, 1.0], [2.0, 3.0], [1.0, 1.0]]), COV[0]
    nd = ND.MultivariateNormal(nr.tensor(loc), nr.tensor(cov))
    td = TD.MultivariateNormal(torch.tensor(loc), torch.tensor(cov))
    assert tuple(nd.batch_shape) == tuple(td.batch_shape) == (3,)
    assert tuple(nd.covariance_matrix.shape) == (3, 2, 2)
    value = np.array([[[0.5, 0.5]], [[1.0, -1.0]]])  # (2, 1, 2): broadcast against the batch of 3
    _assert_same(nd.log_prob(nr.tensor(value)), td.log_prob(torch.tensor(value)))
    assert tuple(nd.rsample((4,)).shape) == (4, 3, 2)


def test_mvn_broadcasts_one_loc_against_a_batch_of_matrices_like_torch():
    nd = ND.MultivariateNormal(nr.zeros(2, dtype=nr.float64), scale_tril=nr.tensor(TRIL))
    td = TD.MultivariateNormal(torch.zeros(2, dtype=torch.float64), scale_tril=torch.tensor(TRIL))
    assert tuple(nd.loc.shape) == tuple(td.loc.shape) == (2, 2)
    _assert_same(nd.entropy(), td.entropy())
    _assert_same(nd.variance, td.variance)


def test_mvn_rsample_is_loc_plus_scale_tril_times_noise_with_gradients():
    loc, tril = nr.tensor(LOC2, requires_grad=True), nr.tensor(TRIL, requires_grad=True)
    x = ND.MultivariateNormal(loc, scale_tril=tril).rsample((5,))
    assert tuple(x.shape) == (5, 2, 2)
    x.sum().backward()
    assert loc.grad.tolist() == [[5.0, 5.0], [5.0, 5.0]]
    assert np.isfinite(tril.grad.tolist()).all()


def test_mvn_samples_have_the_right_mean_and_covariance():
    nr.manual_seed(0)
    d = ND.MultivariateNormal(nr.tensor([1.0, -2.0]), nr.tensor(COV[0], dtype=nr.float32))
    x = np.asarray(d.sample((4000,)).tolist())
    np.testing.assert_allclose(x.mean(0), [1.0, -2.0], atol=0.1)
    np.testing.assert_allclose(np.cov(x.T), COV[0], atol=0.12)


@pytest.mark.parametrize("kwargs", [{}, {"covariance_matrix": COV[0], "scale_tril": TRIL[0]}], ids=["none", "two"])
def test_mvn_needs_exactly_one_matrix(kwargs):
    with pytest.raises(ValueError, match="Exactly one"):
        ND.MultivariateNormal(nr.zeros(2), **{k: nr.tensor(v) for k, v in kwargs.items()})


@pytest.mark.parametrize("kwarg,matrix", [("covariance_matrix", [[1.0, 2.0], [2.0, 1.0]]),
                                          ("covariance_matrix", [[1.0, 0.5], [0.0, 1.0]]),
                                          ("scale_tril", [[1.0, 0.5], [0.0, 1.0]]),
                                          ("scale_tril", [[1.0, 0.0], [0.5, -1.0]])],
                         ids=["not-positive-definite", "not-symmetric", "not-lower", "negative-diagonal"])
def test_mvn_invalid_matrices_raise_a_value_error_like_torch(kwarg, matrix):
    with pytest.raises(ValueError):
        TD.MultivariateNormal(torch.zeros(2), **{kwarg: torch.tensor(matrix)})
    with pytest.raises(ValueError, match=f"Expected parameter {kwarg}") as info:
        ND.MultivariateNormal(nr.zeros(2), **{kwarg: nr.tensor(matrix)})
    assert isinstance(info.value, NeuraRustError)


def test_mvn_a_matrix_that_does_not_match_loc_raises_a_shape_error():
    with pytest.raises(ValueError, match="square and match"):
        ND.MultivariateNormal(nr.zeros(3), nr.eye(2))
    with pytest.raises(ValueError, match="one-dimensional"):
        ND.MultivariateNormal(nr.tensor(0.0), nr.eye(1))


# ----------------------------------------------------------------------------------------------
# sample statistics of the gamma family (seeded: deterministic)
# ----------------------------------------------------------------------------------------------

STATS = {
    "Gamma": lambda: ND.Gamma(nr.tensor([0.3, 1.0, 4.0, 50.0]), nr.tensor([1.0, 2.0, 0.5, 3.0])),
    "Chi2": lambda: ND.Chi2(nr.tensor([1.0, 5.0])),
    "Beta": lambda: ND.Beta(nr.tensor([0.5, 2.0]), nr.tensor([0.5, 5.0])),
    "Dirichlet": lambda: ND.Dirichlet(nr.tensor([0.4, 1.0, 3.0])),
    "StudentT": lambda: ND.StudentT(nr.tensor([5.0, 10.0]), nr.tensor([1.0, -1.0]), nr.tensor([1.0, 2.0])),
}


@pytest.mark.parametrize("name", STATS)
def test_sample_mean_and_variance_are_close_to_the_distributions(name):
    nr.manual_seed(0)
    d = STATS[name]()
    x = d.sample((4000,)).to(nr.float64)
    assert bool(d.support.check(x).all())
    sd = np.sqrt(np.asarray(d.variance.tolist()))
    np.testing.assert_array_less(np.abs(np.asarray(x.mean(0).tolist()) - np.asarray(d.mean.tolist())),
                                 5 * sd / np.sqrt(4000) + 1e-9)
    np.testing.assert_allclose(x.var(0).tolist(), d.variance.tolist(), rtol=0.2)


def test_gamma_samples_follow_the_distribution_by_a_kolmogorov_smirnov_test():
    nr.manual_seed(1)
    n = 3000
    for a in (0.2, 1.0, 7.0):
        x = np.sort(np.asarray(ND.Gamma(a, 2.0).sample((n,)).tolist()))
        cdf = torch.special.gammainc(torch.tensor(a, dtype=torch.float64), torch.tensor(2.0 * x)).numpy()
        ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
        assert ks < 1.95 / np.sqrt(n)  # the 0.1% critical value


def test_gamma_samples_are_reproducible_after_manual_seed():
    d = ND.Gamma(nr.tensor([0.5, 3.0]), 1.0)
    nr.manual_seed(3)
    first = d.sample((5,)).tolist()
    nr.manual_seed(3)
    assert d.sample((5,)).tolist() == first


# ----------------------------------------------------------------------------------------------
# KL divergence
# ----------------------------------------------------------------------------------------------

KL_PAIRS = {
    "MVN": (lambda D, m, s: D.MultivariateNormal(m, scale_tril=s), [LOC2, TRIL], [LOC2[::-1].copy(), TRIL[0]]),
    "MVN-covariance": (lambda D, m, c: D.MultivariateNormal(m, c), [LOC2[0], COV], [LOC2, COV[::-1].copy()]),
    "Gamma": (lambda D, c, r: D.Gamma(c, r), [f64(0.5, 3.0), f64(1.0, 2.0)], [f64(2.0, 1.0), f64(0.5, 4.0)]),
    "Chi2": (lambda D, df: D.Chi2(df), [f64(1.0, 3.0)], [f64(2.0, 1.5)]),
    "Beta": (lambda D, a, b: D.Beta(a, b), [f64(0.5, 3.0), f64(1.0, 2.0)], [f64(2.0, 1.0), f64(0.5, 4.0)]),
    "Dirichlet": (lambda D, c: D.Dirichlet(c), [np.array([[0.5, 2.0, 3.0], [1.0, 1.0, 4.0]])],
                  [np.array([[1.0, 1.0, 1.0], [2.0, 0.3, 4.0]])]),
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


def test_kl_of_mvns_with_different_event_sizes_raises():
    with pytest.raises(ValueError, match="different event shapes"):
        ND.kl_divergence(ND.MultivariateNormal(nr.zeros(2), nr.eye(2)), ND.MultivariateNormal(nr.zeros(3), nr.eye(3)))


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda D: D.Gamma(0.0, 1.0), lambda D: D.Gamma(1.0, -1.0), lambda D: D.Chi2(-1.0),
                                  lambda D: D.Beta(1.0, 0.0), lambda D: D.StudentT(0.0),
                                  lambda D: D.StudentT(1.0, 0.0, -1.0),
                                  lambda D: D.Dirichlet(torch.tensor([1.0, -1.0]) if D is TD else
                                                        nr.tensor([1.0, -1.0]))],
                         ids=["Gamma-concentration", "Gamma-rate", "Chi2-df", "Beta-concentration0", "StudentT-df",
                              "StudentT-scale", "Dirichlet-concentration"])
def test_invalid_parameters_raise_a_value_error_like_torch(make):
    with pytest.raises(ValueError):
        make(TD)
    with pytest.raises(ValueError) as info:
        make(ND)
    assert isinstance(info.value, NeuraRustError)


@pytest.mark.parametrize("make,value", [
    (lambda D: D.Gamma(1.0, 1.0), -1.0), (lambda D: D.Beta(2.0, 2.0), 1.5), (lambda D: D.Chi2(2.0), -0.5)],
    ids=["Gamma", "Beta", "Chi2"])
def test_log_prob_outside_the_support_raises_like_torch(make, value):
    with pytest.raises(ValueError):
        make(TD).log_prob(torch.tensor(value))
    with pytest.raises(ValueError, match="within the support") as info:
        make(ND).log_prob(nr.tensor(value))
    assert isinstance(info.value, NeuraRustError)


def test_dirichlet_log_prob_of_a_point_off_the_simplex_raises():
    with pytest.raises(ValueError, match="within the support"):
        ND.Dirichlet(nr.ones(3)).log_prob(nr.tensor([0.5, 0.5, 0.5]))


# ----------------------------------------------------------------------------------------------
# transformed, discrete, relaxed and mixture distributions
# ----------------------------------------------------------------------------------------------

MORE_STATS = {
    "Gumbel": lambda: ND.Gumbel(nr.tensor([1.0, -3.0]), nr.tensor([0.5, 2.0])),
    "HalfNormal": lambda: ND.HalfNormal(nr.tensor([0.5, 2.0])),
    "Weibull": lambda: ND.Weibull(nr.tensor([1.0, 2.0]), nr.tensor([1.5, 4.0])),
    "Pareto": lambda: ND.Pareto(nr.tensor([1.0, 2.0]), nr.tensor([5.0, 8.0])),
    "Binomial": lambda: ND.Binomial(nr.tensor([10.0, 300.0]), nr.tensor([0.3, 0.9])),
    "Multinomial": lambda: ND.Multinomial(6, nr.tensor([0.2, 0.3, 0.5])),
    "MixtureSameFamily": lambda: ND.MixtureSameFamily(ND.Categorical(nr.tensor([0.3, 0.7])),
                                                      ND.Normal(nr.tensor([-2.0, 2.0]), nr.tensor([0.5, 1.0]))),
}


@pytest.mark.parametrize("name", MORE_STATS)
def test_more_sample_means_and_variances_are_close_to_the_distributions(name):
    nr.manual_seed(0)
    d = MORE_STATS[name]()
    x = d.sample((4000,)).to(nr.float64)
    assert bool(d.support.check(x).all())
    sd = np.sqrt(np.asarray(d.variance.tolist()))
    np.testing.assert_array_less(np.abs(np.asarray(x.mean(0).tolist()) - np.asarray(d.mean.tolist())),
                                 5 * sd / np.sqrt(4000) + 1e-9)
    np.testing.assert_allclose(x.var(0).tolist(), d.variance.tolist(), rtol=0.2)


@pytest.mark.parametrize("name", ["Gumbel", "HalfNormal", "HalfCauchy", "Weibull", "Pareto", "RelaxedBernoulli",
                                  "RelaxedOneHotCategorical"])
def test_rsample_is_reparameterised_so_gradients_reach_every_parameter(name):
    nd, td, nr_params, _ = _build(name)
    assert nd.has_rsample and td.has_rsample
    draw = nd.rsample((5,))
    assert tuple(draw.shape) == (5,) + tuple(nd.batch_shape) + tuple(nd.event_shape)
    draw.sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.tolist()).all() for p in nr_params)


def test_relaxed_one_hot_draws_lie_on_the_simplex_and_harden_at_low_temperature():
    nr.manual_seed(0)
    probs = nr.tensor([0.2, 0.3, 0.5])
    soft = ND.RelaxedOneHotCategorical(nr.tensor(5.0), probs).sample((2000,))
    hard = ND.RelaxedOneHotCategorical(nr.tensor(0.05), probs).sample((2000,))
    np.testing.assert_allclose(soft.sum(-1).tolist(), 1.0, atol=1e-5)
    assert hard.max(-1).values.mean().item() > 0.95 > soft.max(-1).values.mean().item()
    np.testing.assert_allclose((hard > 0.5).float().mean(0).tolist(), probs.tolist(), atol=0.04)


def test_mixture_of_multivariate_components_samples_and_scores_events():
    comps = ND.Independent(ND.Normal(nr.tensor([[0.0, 0.0], [5.0, 5.0]]), nr.ones(2, 2)), 1)
    t_comps = TD.Independent(TD.Normal(torch.tensor([[0.0, 0.0], [5.0, 5.0]]), torch.ones(2, 2)), 1)
    nd = ND.MixtureSameFamily(ND.Categorical(nr.tensor([0.25, 0.75])), comps)
    td = TD.MixtureSameFamily(TD.Categorical(torch.tensor([0.25, 0.75])), t_comps)
    assert tuple(nd.sample((3,)).shape) == tuple(td.sample((3,)).shape) == (3, 2)
    value = np.array([[0.5, -0.5], [4.0, 6.0]], dtype=np.float32)
    _assert_same(nd.log_prob(nr.tensor(value)), td.log_prob(torch.tensor(value)), rtol=1e-5)
    _assert_same(nd.mean, td.mean)


def test_mixture_rejects_a_component_count_that_does_not_match():
    with pytest.raises(ValueError, match="does not equal"):
        ND.MixtureSameFamily(ND.Categorical(nr.ones(3)), ND.Normal(nr.zeros(2), 1.0))
    with pytest.raises(ValueError, match="Categorical"):
        ND.MixtureSameFamily(ND.Normal(0.0, 1.0), ND.Normal(nr.zeros(2), 1.0))


@pytest.mark.parametrize("name", ["Binomial-probs", "Multinomial"])
def test_enumerate_support_and_shapes_of_the_counting_distributions_match_torch(name):
    nd, td, _, _ = _build(name)
    if name.startswith("Binomial"):
        _assert_same(nd.enumerate_support(), td.enumerate_support())
    assert tuple(nd.sample((2,)).shape) == tuple(td.sample((2,)).shape)


def test_multinomial_needs_an_int_total_count_like_torch():
    with pytest.raises(NotImplementedError, match="inhomogeneous"):
        ND.Multinomial(nr.tensor([2.0, 3.0]), nr.tensor([0.5, 0.5]))


def test_binomial_entropy_needs_one_total_count_like_torch():
    with pytest.raises(NotImplementedError, match="Inhomogeneous"):
        ND.Binomial(nr.tensor([2.0, 3.0]), nr.tensor([0.5, 0.5])).entropy()


@pytest.mark.parametrize("make", [lambda D: D.Gumbel(0.0, -1.0), lambda D: D.HalfNormal(0.0),
                                  lambda D: D.Weibull(1.0, -1.0), lambda D: D.Pareto(-1.0, 1.0),
                                  lambda D: D.Binomial(-1, probs=D is TD and torch.tensor(0.5) or nr.tensor(0.5)),
                                  lambda D: D.Binomial(2, probs=D is TD and torch.tensor(1.5) or nr.tensor(1.5))],
                         ids=["Gumbel-scale", "HalfNormal-scale", "Weibull-concentration", "Pareto-scale",
                              "Binomial-total_count", "Binomial-probs"])
def test_more_invalid_parameters_raise_a_value_error_like_torch(make):
    with pytest.raises(ValueError):
        make(TD)
    with pytest.raises(ValueError) as info:
        make(ND)
    assert isinstance(info.value, NeuraRustError)


@pytest.mark.parametrize("make,value", [
    (lambda D, t: D.HalfNormal(1.0), [-1.0]), (lambda D, t: D.Pareto(2.0, 1.0), [1.0]),
    (lambda D, t: D.Binomial(3, t.tensor(0.5)), [4.0]),
    (lambda D, t: D.Multinomial(2, t.tensor([0.5, 0.5])), [2.0, 1.0])],
    ids=["HalfNormal", "Pareto", "Binomial", "Multinomial"])
def test_more_log_prob_outside_the_support_raises_like_torch(make, value):
    with pytest.raises(ValueError):
        make(TD, torch).log_prob(torch.tensor(value))
    with pytest.raises(ValueError, match="within the support") as info:
        make(ND, nr).log_prob(nr.tensor(value))
    assert isinstance(info.value, NeuraRustError)
