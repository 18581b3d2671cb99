"""neurarust.autograd.functional and neurarust.func against torch.autograd.functional and torch.func:
values, shapes, result structures (tensor vs tuple vs dict) and whether results carry a graph, on a
polynomial, an MLP-like function and functions of several inputs and outputs; errors are
NeuraRustError subclasses."""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TAF
import torch.func as TF

import neurarust as nr
import neurarust.autograd.functional as AF
import neurarust.func as F
from neurarust.errors import ArgumentError, AutogradError, ShapeError, SignatureError

RNG = np.random.default_rng(0)


def pair(*shape):
    """The same float64 values as a NeuraRust and a torch tensor."""
    a = RNG.standard_normal(shape)
    return nr.tensor(a), torch.tensor(a)


def assert_same(ours, theirs, path="result"):
    """Equal structure (container types, dict keys), shapes, values and requires_grad."""
    if isinstance(theirs, (tuple, list, dict)):
        assert type(ours) is type(theirs), f"{path}: {type(ours).__name__} vs {type(theirs).__name__}"
        assert len(ours) == len(theirs), f"{path}: {len(ours)} vs {len(theirs)} entries"
        keys = list(theirs) if isinstance(theirs, dict) else range(len(theirs))
        if isinstance(theirs, dict):
            assert list(ours) == list(theirs), path
        for k in keys:
            assert_same(ours[k], theirs[k], f"{path}[{k!r}]")
        return
    assert isinstance(ours, nr.Tensor), f"{path}: {type(ours).__name__}"
    assert tuple(ours.shape) == tuple(theirs.shape), f"{path}: {list(ours.shape)} vs {list(theirs.shape)}"
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-7, atol=1e-10, err_msg=path)
    assert ours.requires_grad == theirs.requires_grad, f"{path}: requires_grad {ours.requires_grad}"


def poly(x):
    return (x ** 3 - 2 * x).sum()


def mlp(w, x):      # written with methods and operators both libraries share
    return (x @ w.t()).tanh()


def two_outputs(a, b):
    return a * 2, (b * a).sum(1)


X, XT = pair(3)
W, WT = pair(2, 3)
B, BT = pair(4, 3)
S, ST = pair()


# ----------------------------------------------------------------------------------------------
# neurarust.autograd.functional
# ----------------------------------------------------------------------------------------------

def test_vjp_of_a_single_tensor_function_is_a_pair_of_tensors():
    v, vt = pair(4, 2)
    assert_same(AF.vjp(lambda w: mlp(w, B), W, v), TAF.vjp(lambda w: mlp(w, BT), WT, vt))


def test_vjp_of_tuple_inputs_is_a_tuple_and_v_may_be_omitted_for_a_scalar_output():
    assert_same(AF.vjp(lambda w, x: mlp(w, x).sum(), (W, B)), TAF.vjp(lambda w, x: mlp(w, x).sum(), (WT, BT)))


def test_jvp_of_several_inputs_and_outputs_matches_torch():
    (va, vat), (vb, vbt) = pair(3), pair(2, 3)
    assert_same(AF.jvp(two_outputs, (X, W), (va, vb)), TAF.jvp(two_outputs, (XT, WT), (vat, vbt)))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("case", ["tensor->tensor", "tuple->tensor", "tensor->tuple", "tuple->tuple"])
def test_jacobian_has_torchs_structure_and_values_in_both_strategies(case, strategy):
    fns = {"tensor->tensor": (lambda w: mlp(w, B), lambda w: mlp(w, BT), W, WT),
           "tuple->tensor": (mlp, mlp, (W, B), (WT, BT)),
           "tensor->tuple": (lambda x: (x.sin(), poly(x)), lambda x: (x.sin(), poly(x)), X, XT),
           "tuple->tuple": (two_outputs, two_outputs, (X, W), (XT, WT))}
    ours, theirs, inputs, inputs_t = fns[case]
    assert_same(AF.jacobian(ours, inputs, strategy=strategy), TAF.jacobian(theirs, inputs_t))


def test_jacobian_with_create_graph_can_be_differentiated_again():
    jac = AF.jacobian(lambda x: x ** 3, X, create_graph=True)
    jac_t = TAF.jacobian(lambda x: x ** 3, XT, create_graph=True)
    assert_same(jac, jac_t)
    x = X.clone().requires_grad_()
    xt = XT.clone().requires_grad_()
    (AF.jacobian(lambda v: v ** 3, x, create_graph=True) ** 2).sum().backward()
    (TAF.jacobian(lambda v: v ** 3, xt, create_graph=True) ** 2).sum().backward()
    assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("outer", ["reverse-mode", "forward-mode"])
def test_hessian_of_an_mlp_loss_of_two_inputs_is_a_tuple_of_tuples(outer):
    assert_same(AF.hessian(lambda w, x: mlp(w, x).sum(), (W, B), outer_jacobian_strategy=outer),
                TAF.hessian(lambda w, x: mlp(w, x).sum(), (WT, BT)))


def test_hessian_of_a_polynomial_of_one_input_is_a_tensor():
    assert_same(AF.hessian(poly, X), TAF.hessian(poly, XT))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hessian_vector_products_match_torch(name):
    (v, vt), (u, ut) = pair(2, 3), pair(4, 3)
    loss = lambda w, x: mlp(w, x).sum()   # noqa: E731
    assert_same(getattr(AF, name)(loss, (W, B), (v, u)), getattr(TAF, name)(loss, (WT, BT), (vt, ut)))
    assert_same(getattr(AF, name)(poly, X, X, create_graph=True), getattr(TAF, name)(poly, XT, XT, create_graph=True))


def test_the_callers_inputs_are_left_untouched():
    x = nr.tensor([1.0, 2.0])
    AF.hessian(poly, x)
    assert not x.requires_grad and x.grad is None


def test_strict_raises_when_an_output_is_independent_of_an_input():
    with pytest.raises(RuntimeError):
        TAF.jacobian(lambda a, b: a * 2, (XT, XT), strict=True)
    with pytest.raises(AutogradError, match="independent of input 1"):
        AF.jacobian(lambda a, b: a * 2, (X, X), strict=True)
    with pytest.raises(AutogradError, match="independent of input 1"):
        AF.vjp(lambda a, b: a * 2, (X, X), X, strict=True)


def test_strict_hessian_of_a_linear_function_raises():
    with pytest.raises(RuntimeError):
        TAF.hessian(lambda a: a.sum(), XT, strict=True)
    with pytest.raises(AutogradError, match="jacobian"):
        AF.hessian(lambda a: a.sum(), X, strict=True)


def test_a_function_returning_a_non_tensor_raises_a_signature_error():
    with pytest.raises(TypeError):
        TAF.jacobian(lambda a: 3, XT)
    with pytest.raises(SignatureError, match="int"):
        AF.jacobian(lambda a: 3, X)


def test_v_of_the_wrong_shape_raises_a_shape_error_naming_both_shapes():
    with pytest.raises(ShapeError, match=r"\[3\].*\[2\]"):
        AF.vjp(lambda a: a * 2, X, nr.ones(2))


def test_v_may_be_omitted_only_for_a_single_element():
    with pytest.raises(AutogradError, match="v can only be None"):
        AF.vjp(lambda a: a * 2, X)


def test_hessian_of_a_non_scalar_function_raises():
    with pytest.raises(AutogradError, match="single element"):
        AF.hessian(lambda a: a * 2, X)


def test_an_unknown_jacobian_strategy_raises():
    with pytest.raises(SignatureError, match="strategy"):
        AF.jacobian(poly, X, strategy="sideways")


# ----------------------------------------------------------------------------------------------
# neurarust.func: gradients
# ----------------------------------------------------------------------------------------------

def test_grad_of_a_polynomial_on_a_tensor_that_does_not_require_grad():
    assert_same(F.grad(poly)(X), TF.grad(poly)(XT))
    assert not X.requires_grad and X.grad is None


def test_grad_with_argnums_returns_a_tuple_and_counts_negative_positions_from_the_end():
    loss = lambda w, x: mlp(w, x).sum()    # noqa: E731
    assert_same(F.grad(loss, argnums=(0, 1))(W, B), TF.grad(loss, argnums=(0, 1))(WT, BT))
    assert_same(F.grad(loss, argnums=-1)(W, B), TF.grad(loss, argnums=-1)(WT, BT))


def test_grad_with_has_aux_returns_the_aux_pytree_detached():
    f = lambda x: (poly(x), {"double": x * 2})    # noqa: E731
    assert_same(F.grad(f, has_aux=True)(X), TF.grad(f, has_aux=True)(XT))


def test_grad_with_respect_to_a_dict_of_tensors_is_a_dict():
    f = lambda p, x: (p["w"] * x).sum() + p["b"][0]     # noqa: E731
    assert_same(F.grad(f)({"w": X, "b": (S,)}, X), TF.grad(f)({"w": XT, "b": (ST,)}, XT))


def test_nested_grad_gives_second_and_third_derivatives():
    assert_same(F.grad(F.grad(lambda x: x ** 3))(S), TF.grad(TF.grad(lambda x: x ** 3))(ST))
    assert_same(F.grad(F.grad(F.grad(lambda x: x.sin())))(S), TF.grad(TF.grad(TF.grad(lambda x: x.sin())))(ST))


def test_nested_grad_through_a_closure_over_the_outer_input():
    def f(lib, x0):
        return lambda a: lib.func.grad(lambda b: (a * b ** 2).sum())(x0).sum()
    assert_same(F.grad(f(nr, X))(X), TF.grad(f(torch, XT))(XT))


def test_grad_is_differentiable_with_respect_to_a_captured_tensor_that_requires_grad():
    w, wt = X.clone().requires_grad_(), XT.clone().requires_grad_()
    g, gt = F.grad(lambda a: (a * a * w).sum())(X), TF.grad(lambda a: (a * a * wt).sum())(XT)
    assert_same(g, gt)
    g.sum().backward()
    gt.sum().backward()
    assert_same(w.grad, wt.grad)


def test_grad_and_value_returns_both():
    f = lambda x: (poly(x), x.sum())    # noqa: E731
    assert_same(F.grad_and_value(poly)(X), TF.grad_and_value(poly)(XT))
    assert_same(F.grad_and_value(f, has_aux=True)(X), TF.grad_and_value(f, has_aux=True)(XT))


def test_grad_of_a_non_scalar_or_non_tensor_output_raises():
    with pytest.raises(RuntimeError):
        TF.grad(lambda x: x * 2)(XT)
    with pytest.raises(AutogradError, match=r"scalar Tensor.*\[3\]"):
        F.grad(lambda x: x * 2)(X)
    with pytest.raises(AutogradError, match="float"):
        F.grad(lambda x: 1.0)(X)


def test_grad_with_bad_argnums_raises():
    with pytest.raises(ArgumentError, match="only 1 positional"):
        F.grad(poly, argnums=1)(X)
    with pytest.raises(SignatureError):
        F.grad(poly, argnums="x")


def test_vjp_of_a_tuple_output_and_its_reusable_vjp_fn():
    f = lambda x, w: (w @ x, x.sin())    # noqa: E731
    out, fn = F.vjp(f, X, W)
    out_t, fn_t = TF.vjp(f, XT, WT)
    assert_same(out, out_t)
    (c, ct), (d, dt) = pair(2), pair(3)
    assert_same(fn((c, d)), fn_t((ct, dt)))
    assert_same(fn((c * 2, d + 1)), fn_t((ct * 2, dt + 1)))


def test_vjp_fn_refuses_cotangents_of_another_structure():
    _, fn = F.vjp(lambda x: (x, x), X)
    with pytest.raises(ArgumentError, match="structure"):
        fn(X)


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobian_transforms_match_torch_on_tensors_argnums_and_pytree_outputs(name):
    ours, theirs = getattr(F, name), getattr(TF, name)
    assert_same(ours(mlp)(W, B), theirs(mlp)(WT, BT))
    assert_same(ours(mlp, argnums=(0, 1))(W, B), theirs(mlp, argnums=(0, 1))(WT, BT))
    f = lambda x: {"s": x.sin(), "t": (x * x, x.sum())}     # noqa: E731
    assert_same(ours(f)(X), theirs(f)(XT))


def test_hessian_transform_of_an_mlp_loss_matches_torch():
    loss = lambda w, x: mlp(w, x).sum()    # noqa: E731
    assert_same(F.hessian(loss, argnums=(0, 1))(W, B[:2]), TF.hessian(loss, argnums=(0, 1))(WT, BT[:2]))
    assert_same(F.hessian(poly)(X), TF.hessian(poly)(XT))


def test_functional_call_differentiates_a_module_with_respect_to_its_parameters():
    lin, lin_t = nr.nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        for p, q in zip(lin.parameters(), lin_t.parameters()):
            q.copy_(torch.tensor(p.detach().numpy()))
    params = {k: v.detach() for k, v in lin.named_parameters()}
    params_t = {k: v.detach() for k, v in lin_t.named_parameters()}
    loss = lambda lib, mod: lambda p, x: lib.func.functional_call(mod, p, (x,)).tanh().sum()   # noqa: E731
    assert_same(F.grad(loss(nr, lin))(params, B), TF.grad(loss(torch, lin_t))(params_t, BT))


# ----------------------------------------------------------------------------------------------
# neurarust.func.vmap
# ----------------------------------------------------------------------------------------------

def test_vmap_maps_every_argument_over_dim_0_by_default():
    assert_same(F.vmap(lambda a, b: (a * b).sum())(B, B), TF.vmap(lambda a, b: (a * b).sum())(BT, BT))


def test_vmap_in_dims_per_argument_with_none_and_negative_dims():
    f = lambda a, b: a * b    # noqa: E731
    assert_same(F.vmap(f, in_dims=(1, None))(W, X[:2]), TF.vmap(f, in_dims=(1, None))(WT, XT[:2]))
    assert_same(F.vmap(lambda a: a.sum(), in_dims=-1)(W), TF.vmap(lambda a: a.sum(), in_dims=-1)(WT))


def test_vmap_in_dims_as_a_pytree_matching_a_dict_argument():
    f = lambda p: p["a"] + p["b"]    # noqa: E731
    dims = ({"a": 0, "b": None},)
    assert_same(F.vmap(f, in_dims=dims)({"a": W, "b": X}), TF.vmap(f, in_dims=dims)({"a": WT, "b": XT}))


def test_vmap_out_dims_and_pytree_outputs():
    f = lambda a: (a, [a * 2, {"s": a.sum()}])    # noqa: E731
    assert_same(F.vmap(f, out_dims=(1, 0))(W), TF.vmap(f, out_dims=(1, 0))(WT))
    assert_same(F.vmap(lambda a: a * 2, out_dims=(1,))(W), TF.vmap(lambda a: a * 2, out_dims=(1,))(WT))


def test_nested_vmap_is_an_outer_product_of_loops():
    f = lambda a, b: a * b    # noqa: E731
    ours = F.vmap(F.vmap(f, in_dims=(0, None)), in_dims=(None, 0))(X, W)
    assert_same(ours, TF.vmap(TF.vmap(f, in_dims=(0, None)), in_dims=(None, 0))(XT, WT))


def test_vmap_of_grad_gives_per_sample_gradients():
    assert_same(F.vmap(F.grad(poly))(B), TF.vmap(TF.grad(poly))(BT))


def test_grad_flows_through_vmap():
    f = lambda lib: lambda a: lib.func.vmap(lambda r: (r ** 2).sum())(a).sum()    # noqa: E731
    assert_same(F.grad(f(nr))(W), TF.grad(f(torch))(WT))


def test_vmap_passes_keyword_arguments_unmapped():
    assert_same(F.vmap(lambda a, k=1.0: a * k)(X, k=3.0), TF.vmap(lambda a, k=1.0: a * k)(XT, k=3.0))


def test_vmap_runs_func_once_per_sample():
    calls = []
    F.vmap(lambda a: calls.append(1) or a)(B)
    assert len(calls) == B.shape[0]


def test_vmap_randomness_same_replays_one_draw_and_different_draws_per_sample():
    same = F.vmap(lambda a: a + nr.rand(3), randomness="same")(nr.zeros(2, 3))
    different = F.vmap(lambda a: a + nr.rand(3), randomness="different")(nr.zeros(2, 3))
    assert same[0].tolist() == same[1].tolist()
    assert different[0].tolist() != different[1].tolist()


def test_vmap_refuses_random_ops_in_error_mode():
    with pytest.raises(RuntimeError, match="randomness"):
        TF.vmap(lambda a: a + torch.rand(3))(torch.zeros(2, 3))
    with pytest.raises(ArgumentError, match="randomness"):
        F.vmap(lambda a: a + nr.rand(3))(nr.zeros(2, 3))


@pytest.mark.parametrize("call, message", [
    (lambda: F.vmap(lambda a, b: a + b)(nr.ones(2), nr.ones(3)), r"same size.*\[2, 3\]"),
    (lambda: F.vmap(lambda a: a, in_dims=None)(nr.ones(2)), "at least one input"),
    (lambda: F.vmap(lambda a: 3)(nr.ones(2)), "only tensors"),
    (lambda: F.vmap(lambda a: a, in_dims=2)(nr.ones(2, 3)), r"in_dim=2.*\[2, 3\]"),
    (lambda: F.vmap(lambda a, b: a, in_dims=(0,))(nr.ones(2), nr.ones(2)), "2 positional"),
], ids=["batch-sizes", "nothing-mapped", "non-tensor-output", "in-dim-range", "in-dims-length"])
def test_vmap_bad_calls_raise_argument_errors(call, message):
    with pytest.raises(ArgumentError, match=message):
        call()


def test_vmap_is_reachable_as_nr_vmap_and_nr_func_lazily():
    assert nr.vmap is nr.func.vmap
    assert_same(nr.vmap(lambda a: a * 2)(X), torch.vmap(lambda a: a * 2)(XT))
