"""The graph passes, each on a small hand-built capture, and the fused kernels they generate."""
import numpy as np
import pytest

import neurarust as nr
from neurarust.graph import Node, Program, capture, passes
from neurarust.graph.fusion import fuse_elementwise


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURARUST_CACHE", str(tmp_path))


def names(g):
    return [n.name.split(".")[0] for n in g.nodes]


def test_dead_code_elimination_drops_unread_pure_nodes():
    def f(x):
        x.exp()          # never read
        return x * 2
    g = capture(f, nr.ones(2)).graph
    assert passes.eliminate_dead_code(g) == 1 and names(g) == ["mul"]


def test_dead_code_elimination_keeps_writes_and_random_draws():
    def f(x, buf):
        buf.add_(1)
        nr.rand(3)
        return x * 2
    g = capture(f, nr.ones(2), nr.zeros(2)).graph
    assert passes.eliminate_dead_code(g) == 0 and names(g) == ["add", "rand", "mul"]


def test_constant_folding_runs_creation_ops_at_compile_time():
    g = capture(lambda x: x + nr.arange(3.0) * 2, nr.ones(3)).graph
    assert passes.fold_constants(g, []) == 2 and names(g) == ["add"]
    x = nr.randn(3)
    assert nr.allclose(Program(g).run([x])[0], x + nr.arange(3.0) * 2)


def test_constant_folding_leaves_random_draws_alone():
    g = capture(lambda x: x + nr.rand(3), nr.ones(3)).graph
    assert passes.fold_constants(g, []) == 0


def test_a_tensor_made_and_filled_inside_the_call_is_a_constant():
    g = capture(lambda x: x + nr.full((3,), 2.0), nr.ones(3)).graph
    assert "fill_" in names(g) and passes.fold_constants(g, []) == 1 and names(g) == ["add"]
    assert nr.equal(Program(g).run([nr.ones(3)])[0], nr.full((3,), 3.0))


def test_a_tensor_made_inside_the_call_and_written_again_starts_fresh_at_every_run():
    def f(x):
        buf = nr.zeros(3)
        buf.add_(x)
        return buf * 1
    g = capture(f, nr.ones(3)).graph
    passes.optimize(g)
    program = Program(g)
    assert [program.run([nr.ones(3)])[0].tolist() for _ in range(2)] == [[1.0] * 3] * 2


def test_common_subexpressions_are_computed_once():
    g = capture(lambda x: x.exp() + x.exp(), nr.ones(3)).graph
    assert passes.eliminate_common_subexpressions(g) == 1 and names(g) == ["exp", "add"]
    assert g.nodes[1].args == (g.nodes[0].outputs[0], g.nodes[0].outputs[0])


def test_common_subexpressions_keep_distinct_random_draws():
    g = capture(lambda x: nr.rand(3) + nr.rand(3), nr.ones(3)).graph
    assert passes.eliminate_common_subexpressions(g) == 0


def test_view_elimination_removes_views_with_the_roots_layout():
    g = capture(lambda x: x.exp(), nr.ones(2, 3)).graph
    root = g.inputs[0]
    out = g.new_value(None, "node", shape=(2, 3), dtype=nr.float32, device=root.device, strides=(3, 1))
    g.nodes.insert(0, Node(None, (root,), {}, [out], view=((2, 3), (3, 1), 0, nr.float32)))
    g.nodes[1].args = (out,)
    assert passes.eliminate_views(g, []) == 1 and names(g) == ["exp"] and g.nodes[0].args == (root,)


def test_copies_of_temporaries_nobody_else_reads_are_dropped():
    g = capture(lambda x: (x * 2).clone().exp(), nr.ones(3)).graph
    assert passes.eliminate_views(g, []) == 1 and names(g) == ["mul", "exp"]


def test_a_copied_transposed_product_is_computed_transposed():
    g = capture(lambda a, b: (a @ b).t().contiguous(), nr.ones(2, 3), nr.ones(3, 4)).graph
    assert passes.eliminate_views(g, []) == 1
    passes.eliminate_dead_code(g)
    assert names(g) == ["view", "view", "matmul"]
    a, b = nr.randn(2, 3), nr.randn(3, 4)
    out = Program(g).run([a, b])[0]
    assert out.is_contiguous() and nr.allclose(out, (a @ b).t())


def test_copies_of_inputs_and_shared_values_stay():
    g = capture(lambda x: (x.clone(), (x * 2).clone() + (x * 2)), nr.ones(3)).graph
    passes.eliminate_common_subexpressions(g)
    assert passes.eliminate_views(g, []) == 0


def test_elementwise_chain_with_broadcasting_fuses_into_one_kernel():
    f = lambda x, b: ((x * b).exp() + 1).relu()  # noqa: E731
    g = capture(f, nr.ones(2, 4), nr.ones(4)).graph
    assert fuse_elementwise(g, []) == 1 and names(g) == ["fused"]
    kernel = g.nodes[0].fused
    assert [m.op.name for m in kernel.members] == ["mul", "exp", "add", "relu"]
    x, b = nr.randn(2, 4), nr.randn(4)
    assert nr.allclose(Program(g).run([x, b])[0], f(x, b))


def test_fusion_keeps_a_value_that_is_read_outside_the_group():
    def f(x):
        y = x * 2
        return y.exp(), y.sum()
    g = capture(f, nr.ones(3)).graph
    fuse_elementwise(g, [])
    assert names(g) == ["mul", "exp", "sum"]


def test_fused_kernel_follows_each_members_dtypes():
    f = lambda x: (x.half() * 3).exp().float()  # noqa: E731
    g = capture(f, nr.ones(5)).graph
    fuse_elementwise(g, [])
    x = nr.randn(5)
    out = Program(g).run([x])[0]
    assert out.dtype is nr.float32 and nr.equal(out, f(x))


def test_generated_source_is_written_to_the_cache_and_readable(tmp_path):
    g = capture(lambda x: (x * 2).exp(), nr.ones(3)).graph
    fuse_elementwise(g, [])
    kernel = g.nodes[0].fused
    assert kernel.path.parent == tmp_path / "compile"
    text = kernel.path.read_text()
    assert "@triton.jit" in text and "scalar_triton_exp" in text and "SPEC =" in text


def test_fused_kernel_on_triton_matches_its_reference():
    f = lambda x, b: (x - b).sigmoid() * 0.5 + x  # noqa: E731
    g = capture(f, nr.ones(3, 5), nr.ones(5)).graph
    fuse_elementwise(g, [])
    x, b = nr.randn(3, 5), nr.randn(5)
    with nr.backends.using("triton"):
        out = Program(g).run([x, b])[0]
    assert nr.allclose(out, f(x, b), rtol=1e-5, atol=1e-6)


def linear_relu_residual():
    lin = nr.nn.Linear(5, 7)
    return lambda x, r: lin(x).relu() + r


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_product_takes_its_elementwise_readers_as_its_epilogue(backend):
    f = linear_relu_residual()
    g = capture(f, nr.ones(3, 4, 5), nr.ones(3, 4, 7)).graph
    assert fuse_elementwise(g, []) == 1 and names(g) == ["view", "fused"]
    assert g.nodes[1].fused.op_names() == ["matmul", "add", "relu", "add"]
    x, r = nr.randn(3, 4, 5), nr.randn(3, 4, 7)
    with nr.no_grad(), nr.backends.using(backend):
        assert nr.allclose(Program(g).run([x, r])[0], f(x, r), rtol=1e-5, atol=1e-6)


def test_a_product_read_elsewhere_is_not_fused():
    def f(a, b):
        p = a @ b
        return p.relu(), p.sum()
    g = capture(f, nr.ones(2, 3), nr.ones(3, 4)).graph
    fuse_elementwise(g, [])
    assert names(g) == ["matmul", "relu", "sum"]


def rms_norm():
    w = nr.randn(8)
    return lambda x: x * (x * x).mean(-1, keepdim=True).add(1e-6).rsqrt() * w


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_row_reduction_takes_its_elementwise_producers_as_its_prologue(backend):
    f = rms_norm()
    g = capture(f, nr.ones(3, 5, 8)).graph
    assert fuse_elementwise(g, []) == 2 and names(g) == ["fused", "fused"]
    assert g.nodes[0].fused.op_names() == ["mul", "mean"]
    x = nr.randn(3, 5, 8)
    with nr.backends.using(backend):
        assert nr.allclose(Program(g).run([x])[0], f(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduce", [lambda t: t.sum(-1), lambda t: t.amax(dim=1, keepdim=True)])
def test_row_reductions_of_strided_and_broadcast_inputs(reduce):
    f = lambda x, b: reduce((x.t() - b).exp())  # noqa: E731
    g = capture(f, nr.ones(6, 4), nr.ones(6)).graph
    assert fuse_elementwise(g, []) == 1
    x, b = nr.randn(6, 4), nr.randn(6)
    with nr.backends.using("triton"):
        assert nr.allclose(Program(g).run([x, b])[0], f(x, b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_the_sum_of_a_1d_tensor_takes_its_producers_as_its_prologue(backend):
    f = lambda x: (x != 0).float().sum()  # noqa: E731
    g = capture(f, nr.ones(5)).graph
    assert fuse_elementwise(g, []) == 1 and names(g) == ["fused"]
    x = nr.tensor([0.0, 1.0, 2.0])
    g = capture(f, x).graph
    fuse_elementwise(g, [])
    with nr.backends.using(backend):
        got = Program(g).run([x])[0]
    assert got.shape == () and got.item() == 2.0


def masked_softmax(log: bool = False):
    mask = nr.zeros(5, 8)
    mask[:, 6:] = float("-inf")
    return lambda s: getattr(s * 0.5 + mask, "log_softmax" if log else "softmax")(-1)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_takes_its_elementwise_producers_as_its_prologue(backend, log):
    f = masked_softmax(log)
    g = capture(f, nr.ones(3, 5, 8)).graph
    assert fuse_elementwise(g, []) == 1 and names(g) == ["fused"]
    assert g.nodes[0].fused.op_names() == ["mul", "add", "log_softmax" if log else "softmax"]
    x = nr.randn(3, 5, 8)
    with nr.backends.using(backend):
        got = Program(g).run([x])[0]
    np.testing.assert_allclose(got.numpy(), f(x).numpy(), rtol=1e-5, atol=1e-6)


def test_row_reduction_of_rows_that_need_two_strides():
    def f(a, o):
        return (a.view(4, 2, 2, 8).permute(1, 2, 0, 3) * o).sum(-1)
    g = capture(f, nr.ones(8, 16), nr.ones(2, 2, 4, 8)).graph
    assert fuse_elementwise(g, []) == 1
    a, o = nr.randn(8, 16), nr.randn(2, 2, 4, 8)
    with nr.backends.using("triton"):
        assert nr.allclose(Program(g).run([a, o])[0], f(a, o), rtol=1e-5, atol=1e-6)


def test_optimize_reports_each_pass():
    g = capture(lambda x: x.exp() + x.exp() * 2, nr.ones(3)).graph
    report = passes.optimize(g)
    assert report["cse"] == 1 and report["fused"] == 1 and names(g) == ["fused"]


def heads(qkv, part):
    """Attention's head split: a copy of one third of the projection, viewed as (batch, heads, seq, dim)."""
    return qkv[..., part * 4:(part + 1) * 4].clone().view(2, 3, 2, 2).transpose(1, 2)


def attention(qkv):
    return nr.registry.call("flash_attention", heads(qkv, 0), heads(qkv, 1), heads(qkv, 2))[0]


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_copies_read_only_through_views_by_attention_are_dropped(backend):
    from neurarust.graph.copies import eliminate_copies

    g = capture(attention, nr.ones(2, 3, 12)).graph
    assert eliminate_copies(g, []) == 3 and names(g).count("clone") == 0
    qkv = nr.randn(2, 3, 12)
    with nr.backends.using(backend):
        assert nr.allclose(Program(g).run([qkv])[0], attention(qkv), rtol=1e-5, atol=1e-6)


def test_copies_read_by_ops_that_copy_strided_inputs_stay():
    from neurarust.graph.copies import eliminate_copies

    g = capture(lambda x: x[:, :2].clone().view(4).exp(), nr.ones(2, 3)).graph
    assert eliminate_copies(g, []) == 0


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_relu_backward_joins_the_product_epilogue(backend):
    f = lambda a, g, w: nr.where(a > 0, g @ w, 0.0)  # noqa: E731
    g = capture(f, nr.ones(2, 3, 4), nr.ones(2, 3, 5), nr.ones(5, 4)).graph
    assert fuse_elementwise(g, []) == 1 and g.nodes[0].fused.op_names() == ["matmul", "gt", "where"]
    a, gr, w = nr.randn(2, 3, 4), nr.randn(2, 3, 5), nr.randn(5, 4)
    with nr.backends.using(backend):
        assert nr.allclose(Program(g).run([a, gr, w])[0], f(a, gr, w), rtol=1e-5, atol=1e-6)


def copies_and_cat(a, b):
    """Two independent copies, and a cat of a copied permuted view (its copy walked through)."""
    merged = nr.cat([a.t().contiguous().view(2, 2, 3).transpose(0, 1), b.view(2, 2, 3)], 2)
    return a.t().contiguous(), b[:, 1:].clone(), merged


def column_sums(x, y):
    return x.sum((0, 1)), (y * 2).sum(0)


def weight_gradients(a, b, c):
    return a.t() @ b, c.t() @ b[:, :3], a.t() @ c


HORIZONTAL = {"copies": (copies_and_cat, [(3, 4), (4, 3)], 3), "column_sums": (column_sums, [(2, 3, 5), (7, 5)], 2),
              "products": (weight_gradients, [(17, 5), (17, 6), (17, 18)], 3)}


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("kind", list(HORIZONTAL))
def test_independent_ops_of_one_kind_launch_as_one_kernel(kind, backend):
    from neurarust.graph.horizontal import fuse_horizontally

    f, shapes, outputs = HORIZONTAL[kind]
    g = capture(f, *[nr.ones(*s) for s in shapes]).graph
    assert fuse_horizontally(g, []) == 1
    passes.eliminate_dead_code(g)
    group = [n for n in g.nodes if n.fused is not None]
    assert len(group) == 1 and group[0].fused.kind == kind and len(group[0].outputs) == outputs
    assert "clone" not in names(g) and g.kernel_count() == 1 + names(g).count("mul")
    args = [nr.randn(*s) for s in shapes]
    with nr.backends.using(backend):
        for got, want in zip(Program(g).run(args), f(*args)):
            assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


def token_gradients(dy, x, dz):
    """Weight gradients over tokens that ``x`` holds batch-first and the gradients sequence-first: the
    copy that reorders ``x``'s tokens goes, the product walks them as two dims."""
    tokens = x.transpose(0, 1).reshape(-1, x.shape[-1])        # a copy in eager
    return dy.reshape(-1, dy.shape[-1]).t() @ tokens, dz.t() @ dz


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_product_reads_through_a_copy_that_reorders_its_summed_dim(backend):
    from neurarust.graph.horizontal import fuse_horizontally

    shapes = [(3, 2, 6), (2, 3, 5), (6, 4)]
    g = capture(token_gradients, *[nr.ones(*s) for s in shapes]).graph
    assert fuse_horizontally(g, []) == 1
    passes.eliminate_dead_code(g)
    assert "clone" not in names(g) and g.kernel_count() == 1
    args = [nr.randn(*s) for s in shapes]
    with nr.backends.using(backend):
        for got, want in zip(Program(g).run(args), token_gradients(*args)):
            assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


def copied_tokens(dy, x):
    """A bias and a weight gradient of one sequence-first gradient that a copy made batch-first."""
    rows = dy.transpose(0, 1).reshape(-1, dy.shape[-1])       # a copy in eager
    return rows.sum(0), rows.t() @ x.reshape(-1, x.shape[-1])


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_copy_that_only_sums_and_products_read_is_read_through_by_all_of_them(backend):
    from neurarust.graph.horizontal import fuse_horizontally

    shapes = [(3, 2, 6), (2, 3, 5)]
    g = capture(copied_tokens, *[nr.ones(*s) for s in shapes]).graph
    assert fuse_horizontally(g, []) == 1
    passes.eliminate_dead_code(g)
    assert "clone" not in names(g) and g.kernel_count() == 1
    args = [nr.randn(*s) for s in shapes]
    with nr.backends.using(backend):
        for got, want in zip(Program(g).run(args), copied_tokens(*args)):
            assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_copy_that_a_reader_outside_the_group_needs_is_kept_for_it():
    from neurarust.graph.horizontal import fuse_horizontally

    def f(dy, w, b):
        rows = dy.transpose(0, 1).reshape(-1, dy.shape[-1])
        return rows.sum(0), rows.view(2, 3, 6) @ w, b.t().contiguous()   # a batched product: no group member
    shapes = [(3, 2, 6), (6, 4), (3, 5)]
    g = capture(f, *[nr.ones(*s) for s in shapes]).graph
    assert fuse_horizontally(g, []) == 1
    passes.eliminate_dead_code(g)
    group = next(n.fused for n in g.nodes if n.fused is not None)
    assert group.op_names() == ["copies", "copies"] and g.kernel_count() == 3    # both copies, the sum, the product
    args = [nr.randn(*s) for s in shapes]
    for got, want in zip(Program(g).run(args), f(*args)):
        assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


def mean_backward(dy, x):
    """A mean's backward over dim 1 (the broadcast gradient divided by the count), then the bias and
    weight gradients of the layer before."""
    d = dy.unsqueeze(1).expand(2, 4, 5) / 4
    return d.sum((0, 1)), d.reshape(8, 5).t() @ x.reshape(8, 3)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_sums_and_products_read_through_a_scaled_copy_and_apply_its_scale(backend):
    from neurarust.graph.horizontal import fuse_horizontally

    shapes = [(2, 5), (2, 4, 3)]
    g = capture(mean_backward, *[nr.ones(*s) for s in shapes]).graph
    assert fuse_horizontally(g, []) == 1
    passes.eliminate_dead_code(g)
    group = next(n.fused for n in g.nodes if n.fused is not None)
    assert "div" not in names(g) and g.kernel_count() == 1 and [p.scale for p in group.pieces] == [0.25, 0.25]
    args = [nr.randn(*s) for s in shapes]
    with nr.backends.using(backend):
        for got, want in zip(Program(g).run(args), mean_backward(*args)):
            assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("scale", [lambda d: d / 4, lambda d: d * 0.5, lambda d: 3 * d])
def test_a_scaled_product_operand_becomes_the_products_epilogue(backend, scale):
    f = lambda dy, w: scale(dy.unsqueeze(1).expand(2, 4, 5)) @ w     # noqa: E731
    g = capture(f, nr.ones(2, 5), nr.ones(5, 3)).graph
    passes.optimize(g)
    assert names(g) == ["view", "fused"] and g.nodes[1].fused.op_names()[0] == "matmul"
    args = [nr.randn(2, 5), nr.randn(5, 3)]
    with nr.backends.using(backend):
        assert nr.allclose(Program(g).run(args)[0], f(*args), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_scaled_operand_written_in_place_before_the_product_stays(backend):
    def f(x, w):
        s = x.t() * 0.5
        x.add_(1)
        return s @ w
    g = capture(f, nr.ones(3, 4), nr.ones(3, 2)).graph
    passes.optimize(g)
    x, w = nr.randn(3, 4), nr.randn(3, 2)
    with nr.backends.using(backend):
        assert nr.allclose(Program(g).run([x.clone(), w])[0], f(x.clone(), w), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_numpy_divisor_scales_the_generated_kernels(backend):
    f = lambda x: ((x / np.float32(3.0)).sum(0), (x / np.float32(3.0)).t() @ x)    # noqa: E731
    g = capture(f, nr.ones(4, 3)).graph
    passes.optimize(g)
    assert "div" not in names(g)
    x = nr.randn(4, 3)
    with nr.backends.using(backend):
        for got, want in zip(Program(g).run([x]), f(x)):
            assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [lambda x: x / 1e-39, lambda x: x * 1e31, lambda x: x.half() / 4])
def test_scales_whose_reciprocal_or_dtype_could_overflow_are_no_scaled_copies(make):
    from neurarust.graph.scales import scaled_copy

    g = capture(make, nr.ones(3)).graph
    assert scaled_copy(g.nodes[-1]) is None


def test_a_half_precision_product_keeps_its_scaled_operand():
    from neurarust.graph.scales import move_scales_into_products

    g = capture(lambda x, w: (x / 4) @ w, nr.ones(2, 8, dtype=nr.float16), nr.ones(8, 2, dtype=nr.float16)).graph
    assert move_scales_into_products(g, []) == 0      # x @ w could overflow before the scale


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_product_over_a_row_reshape_of_a_copy_reads_what_was_copied(backend):
    from neurarust.graph.copies import read_copied_rows

    f = lambda dy, w: dy.transpose(0, 1).reshape(-1, 6) @ w   # noqa: E731
    g = capture(f, nr.ones(3, 2, 6), nr.ones(6, 4)).graph
    assert read_copied_rows(g, []) == 1
    passes.eliminate_dead_code(g)
    assert "clone" not in names(g) and g.kernel_count() == 1
    args = [nr.randn(3, 2, 6), nr.randn(6, 4)]
    with nr.backends.using(backend):
        assert nr.allclose(Program(g).run(args)[0], f(*args), rtol=1e-5, atol=1e-5)


def attention_then_gradients(qkv, w):
    """Attention over heads split from a (length, batch, 3 * embed) projection, then a column sum and
    a product of its output: on Triton the output lies in the query's layout (a permuted dense root)."""
    out = nr.registry.call("flash_attention", *(qkv[..., i * 4:(i + 1) * 4].reshape(3, 4, 2, 2).permute(1, 2, 0, 3)
                                                for i in range(3)))[0]
    rows = out.permute(2, 0, 1, 3).reshape(12, 4)
    return rows.sum(0), rows.t() @ w


def test_a_group_walks_a_permuted_dense_input_in_its_own_layout():
    from neurarust.graph.horizontal import fuse_horizontally

    args = [nr.randn(3, 4, 12), nr.randn(12, 5)]
    with nr.backends.using("triton"):
        g = capture(attention_then_gradients, *args).graph
        assert fuse_horizontally(g, []) == 1
        group = next(n.fused for n in g.nodes if n.fused is not None)
        assert any(lay is not None for lay in group.layouts)
        got, want = Program(g).run(args), attention_then_gradients(*args)
    for a, b in zip(got, want):
        assert nr.allclose(a, b, rtol=1e-5, atol=1e-5)
    arrays = [np.random.default_rng(0).uniform(size=s).astype(np.float32) for s, _ in group.inputs]
    with nr.backends.using("triton"):
        launched = group([nr.tensor(a) for a in arrays])     # contiguous inputs: copied into the layout
    for a, b in zip(launched, group.reference(*arrays)):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-5)


def packed_gradients(dq, dk, dv, x):
    """A packed projection's bias and weight gradients: the column sum and the product of a ``cat``
    of three gradients (the cat's dim is the sum's columns and the product's rows)."""
    d = nr.cat([dq, dk, dv], 2)
    return d.sum((0, 1)), d.reshape(-1, d.shape[-1]).t() @ x.reshape(-1, x.shape[-1])


PACKED_SHAPES = [(3, 2, 4), (3, 2, 4), (3, 2, 5), (3, 2, 6)]


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_sums_and_products_read_through_a_cat_and_the_cat_goes(backend):
    from neurarust.graph.horizontal import fuse_horizontally

    g = capture(packed_gradients, *[nr.ones(*s) for s in PACKED_SHAPES]).graph
    assert fuse_horizontally(g, []) == 1
    assert "cat" not in names(g) and g.kernel_count() == 1
    group = next(n.fused for n in g.nodes if n.fused is not None)
    assert len(group.pieces) == 6                       # three column sums, three products
    args = [nr.randn(*s) for s in PACKED_SHAPES]
    with nr.backends.using(backend):
        for got, want in zip(Program(g).run(args), packed_gradients(*args)):
            assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_product_reads_through_a_cat_of_its_columns():
    from neurarust.graph.horizontal import fuse_horizontally

    f = lambda a, b, x: x.t() @ nr.cat([a, b], 1)      # noqa: E731
    shapes = [(5, 3), (5, 2), (5, 4)]
    g = capture(f, *[nr.ones(*s) for s in shapes]).graph
    assert fuse_horizontally(g, []) == 1 and "cat" not in names(g)
    args = [nr.randn(*s) for s in shapes]
    with nr.backends.using("triton"):
        assert nr.allclose(Program(g).run(args)[0], f(*args), rtol=1e-5, atol=1e-5)


def test_a_cat_read_by_another_op_is_not_read_through():
    from neurarust.graph.horizontal import fuse_horizontally

    def f(a, b):
        c = nr.cat([a, b], 1)
        return c.sum(0), c * 2
    g = capture(f, nr.ones(3, 2), nr.ones(3, 4)).graph
    assert fuse_horizontally(g, []) == 0
    cat, total = (next(n for n in g.nodes if n.name == name) for name in ("cat", "sum"))
    assert total.args[0] is cat.outputs[0]


def loss_step(**kw):
    """A training step's loss and the logits' gradient (the loss's backward inside the call)."""
    def step(x, t):
        loss = nr.nn.functional.cross_entropy(x, t, **kw)
        (loss if loss.ndim == 0 else loss.sum()).backward()
        grad, x.grad = x.grad, None
        return loss, grad
    return step


LOSS_CASES = {
    "mean": {},
    "weighted_smoothed_ignoring": {"weight": nr.tensor([0.5, 2.0, 1.0]), "ignore_index": 1, "label_smoothing": 0.1},
    "sum": {"reduction": "sum"},
    "none": {"reduction": "none"},
}


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("case", LOSS_CASES)
def test_a_cross_entropy_and_its_losss_backward_run_as_one_kernel(backend, case):
    from neurarust.graph.losses import merge_losses

    step = loss_step(**LOSS_CASES[case])
    t = nr.tensor([0, 1, 2, 1, 0])
    with nr.backends.using(backend):
        g = capture(step, nr.zeros(5, 3, requires_grad=True), t).graph
        passes.fold_constants(g, [])              # the loss's seed (ones) made in the call: a constant
        assert merge_losses(g, []) == 1
        passes.eliminate_dead_code(g)
        assert [n.name for n in g.nodes if "entropy" in n.name or "logsumexp" in n.name] == \
            ["cross_entropy_and_backward"]
        x = nr.randn(5, 3, requires_grad=True)
        got, want = Program(g).run([x, t]), step(x, t)
    for a, b in zip(got, want):
        assert nr.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_merged_loss_takes_three_launches_when_its_rows_take_several_programs():
    from neurarust.graph.losses import merge_losses

    step = loss_step(label_smoothing=0.2)
    t = nr.randint(0, 3, (1500,))
    with nr.backends.using("triton"):
        g = capture(step, nr.zeros(1500, 3, requires_grad=True), t).graph
        merge_losses(g, [])
        passes.eliminate_dead_code(g)
        x = nr.randn(1500, 3, requires_grad=True)
        nr.backends.launch_counts.clear()
        got = Program(g).run([x, t])
        launched = {k: v for k, v in nr.backends.launch_counts.items() if "cross_entropy" in k}
        want = step(x, t)
    assert launched == {"cross_entropy_denominator": 1, "cross_entropy_backward": 1, "cross_entropy_finish": 1}
    for a, b in zip(got, want):
        assert nr.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_backward_seeded_with_the_loss_itself_keeps_its_own_kernel():
    def step(x, t):
        loss = nr.nn.functional.cross_entropy(x, t, reduction="none")
        loss.backward(loss.detach())
        grad, x.grad = x.grad, None
        return loss, grad
    t = nr.tensor([0, 1, 2, 1])
    g = capture(step, nr.zeros(4, 3, requires_grad=True), t).graph
    passes.optimize(g)
    assert "cross_entropy_and_backward" not in names(g)
    x = nr.randn(4, 3, requires_grad=True)
    for a, b in zip(Program(g).run([x, t]), step(x, t)):
        assert nr.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_backward_whose_row_gradient_needs_the_loss_keeps_its_own_kernel():
    def step(x, t):
        loss = nr.nn.functional.cross_entropy(x, t)
        (loss * loss).backward()             # the row gradient is 2 * loss: the forward must run first
        grad, x.grad = x.grad, None
        return loss, grad
    t = nr.tensor([0, 1, 2, 1])
    with nr.backends.using("triton"):
        g = capture(step, nr.zeros(4, 3, requires_grad=True), t).graph
        passes.optimize(g)
        assert "cross_entropy_and_backward" not in names(g)
        x = nr.randn(4, 3, requires_grad=True)
        got, want = Program(g).run([x, t]), step(x, t)
    for a, b in zip(got, want):
        assert nr.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_ops_with_a_path_between_them_stay_apart():
    from neurarust.graph.horizontal import fuse_horizontally

    def f(x):
        y = x.sum(0)
        return y, (x * y).sum(0)
    g = capture(f, nr.ones(3, 4)).graph
    assert fuse_horizontally(g, []) == 0


def test_independent_ops_of_different_kinds_share_one_kernel():
    from neurarust.graph.horizontal import fuse_horizontally

    f = lambda a, b: (a.sum(0), a.t() @ b, b.t().contiguous())  # noqa: E731
    g = capture(f, nr.ones(5, 3), nr.ones(5, 4)).graph
    assert fuse_horizontally(g, []) == 1 and [n.fused.kind for n in g.nodes if n.fused] == ["mixed"]
    a, b = nr.randn(5, 3), nr.randn(5, 4)
    with nr.backends.using("triton"):
        assert all(nr.allclose(x, y, rtol=1e-5, atol=1e-5) for x, y in zip(Program(g).run([a, b]), f(a, b)))





def out_projection_residual():
    w, bias = nr.randn(6, 5), nr.randn(5)
    return lambda a, r: (a.view(8, 6) @ w + bias).view(4, 2, 5).transpose(0, 1) + r   # rows (seq, batch) + (batch, seq)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_residual_read_through_a_row_permuting_view_joins_the_product_epilogue(backend):
    f = out_projection_residual()
    g = capture(f, nr.ones(4, 2, 6), nr.ones(2, 4, 5)).graph
    assert fuse_elementwise(g, []) == 1 and g.kernel_count() == 1
    a, r = nr.randn(4, 2, 6), nr.randn(2, 4, 5)
    with nr.no_grad(), nr.backends.using(backend):
        assert nr.allclose(Program(g).run([a, r])[0], f(a, r), rtol=1e-5, atol=1e-6)


def test_a_view_that_is_no_row_reshape_stays_after_the_bias():
    w, bias = nr.randn(6, 5), nr.randn(5)
    f = lambda a: (a @ w + bias).t()  # noqa: E731
    g = capture(f, nr.ones(3, 6)).graph
    fuse_elementwise(g, [])
    assert names(g)[-1] == "view"
    a = nr.randn(3, 6)
    assert nr.allclose(Program(g).run([a])[0], f(a))


@pytest.mark.compile
def projected_norm(width: int, rms: bool = False, affine: bool = True):
    """A residual block's tail: a projection with its bias and residual add, then a layer/rms norm."""
    lin = nr.nn.Linear(5, width)
    norm = (nr.nn.RMSNorm if rms else nr.nn.LayerNorm)(width, elementwise_affine=affine)
    return lambda x, r: norm(lin(x) + r)


def norm_fused(width: int, rms: bool = False, affine: bool = True):
    from neurarust.graph.norms import fuse_norms

    f = projected_norm(width, rms, affine)
    g = capture(f, nr.ones(3, 4, 5), nr.ones(3, 4, width)).graph
    fuse_elementwise(g, [])
    return f, g, fuse_norms(g, [])


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("rms, affine", [(False, True), (True, True), (False, False)])
def test_a_norm_of_a_product_joins_the_products_kernel(backend, rms, affine):
    f, g, fused = norm_fused(7, rms, affine)
    assert fused == 1 and names(g) == ["view", "fused"]
    assert g.nodes[1].fused.op_names()[-1] == ("rms_norm" if rms else "layer_norm")
    x, r = nr.randn(3, 4, 5), nr.randn(3, 4, 7)
    with nr.no_grad(), nr.backends.using(backend):
        got, want = Program(g).run([x, r])[0], f(x, r)
    assert nr.allclose(got, want, rtol=1e-5, atol=1e-5)


def test_the_fused_norm_also_writes_the_pre_norm_sum_and_the_row_statistics():
    f, g, _ = norm_fused(7)
    outs = g.nodes[1].outputs
    assert [v.shape for v in outs] == [(3, 4, 7), (3, 4, 7), (3, 4, 1), (3, 4, 1)]
    inputs = [nr.randn(3, 4, 5), nr.randn(3, 4, 7)]
    runs = {}
    for backend in ("reference", "triton"):
        with nr.no_grad(), nr.backends.using(backend):
            runs[backend] = Program(g, keep=outs).run(inputs)[1:]
    for got, want in zip(runs["triton"], runs["reference"]):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_the_compile_check_sizes_a_norm_launch_by_its_output_dtype_as_the_launch_does():
    from neurarust.graph.norms import fuse_norms
    from neurarust.kernels.matmul_triton import norm_config

    w, b = nr.ones(32), nr.zeros(32)
    f = lambda x, m, r: nr.nn.functional.layer_norm((x @ m).float() + r, [32], w, b)  # noqa: E731
    g = capture(f, nr.ones(4, 8, dtype=nr.bfloat16), nr.ones(8, 32, dtype=nr.bfloat16), nr.ones(4, 32)).graph
    fuse_elementwise(g, [])
    assert fuse_norms(g, []) == 1
    spec = next(n.fused for n in g.nodes if n.fused is not None).module().aot_specs()[0]
    cfg = norm_config(32, nr.float32.itemsize)
    assert (spec.constants["BLOCK_M"], spec.constants["BLOCK_N"], spec.num_warps) == \
        (cfg["BLOCK_M"], cfg["BLOCK_N"], cfg["num_warps"])


def test_rows_wider_than_one_tile_keep_their_norm_apart():
    from neurarust.kernels.matmul_triton import MAX_NORM_N

    assert norm_fused(MAX_NORM_N + 1)[2] == 0


def norm_backward(rows: int, width: int, rms: bool = False, affine: bool = True):
    """A norm's backward whose incoming gradient a product makes (a block's output projection, read
    back through its layer norm): ``(dx, dw, db)`` of the norm at ``x`` for ``g @ w + r``."""
    def f(g, w, r, x, mean, rstd, weight):
        return nr.registry.call("layer_norm_backward", g @ w + r, x, [width], None if rms else mean, rstd,
                                weight if affine else None)
    shapes = [(2, rows, 5), (5, width), (2, rows, width), (2, rows, width), (2, rows, 1), (2, rows, 1), (width,)]
    return f, shapes


def norm_grad_fused(rows: int, width: int, rms: bool = False, affine: bool = True):
    from neurarust.graph.norms import fuse_norm_backwards

    f, shapes = norm_backward(rows, width, rms, affine)
    g = capture(f, *[nr.ones(*s) for s in shapes]).graph
    fuse_elementwise(g, [])
    return f, shapes, g, fuse_norm_backwards(g, [])


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("rows, rms, affine", [(3, False, True), (3, True, True), (3, False, False), (70, False, True)])
def test_a_norm_backward_joins_the_product_that_makes_its_gradient(backend, rows, rms, affine):
    from neurarust.graph.norms import NormGradProduct

    f, shapes, g, fused = norm_grad_fused(rows, 7, rms, affine)
    assert fused == 1 and "layer_norm_backward" not in names(g)
    kernel = next(n.fused for n in g.nodes if n.fused is not None)
    assert isinstance(kernel, NormGradProduct) and kernel.op_names()[-1].endswith("norm_backward")
    assert kernel.partials_shape == (2, -(-rows // kernel.tile_rows), 14)      # rows of 70: two tiles
    args = [nr.randn(*s) for s in shapes]
    args[5] = args[5].abs() + 0.5                                            # a plausible rstd
    with nr.backends.using(backend):
        got, want = Program(g).run(args), f(*args)
    for a, b in zip(got, want):
        assert nr.allclose(a, b, rtol=1e-5, atol=1e-5)


def test_a_norm_backward_whose_gradient_is_read_elsewhere_keeps_its_own_kernel():
    from neurarust.graph.norms import fuse_norm_backwards

    def f(g, w, x, mean, rstd):
        dy = g @ w
        return nr.registry.call("layer_norm_backward", dy, x, [4], mean, rstd)[0], dy.sum()
    g = capture(f, nr.ones(3, 5), nr.ones(5, 4), nr.ones(3, 4), nr.ones(3, 1), nr.ones(3, 1)).graph
    fuse_elementwise(g, [])
    assert fuse_norm_backwards(g, []) == 0


def test_fused_kernels_pass_neurarust_check_and_compile_for_sm80_and_sm90():
    from neurarust.cli import main

    chain = capture(lambda x, y: ((x * y).exp() + 1).relu().half(), nr.ones(4), nr.ones(2, 4)).graph
    product = capture(linear_relu_residual(), nr.ones(3, 4, 5), nr.ones(3, 4, 7)).graph
    reduction = capture(rms_norm(), nr.ones(3, 5, 8)).graph
    softmax = capture(masked_softmax(), nr.ones(3, 5, 8)).graph
    kernels = []
    for g in (chain, product, reduction, softmax):
        fuse_elementwise(g, [])
        kernels += [n.fused.name for n in g.nodes if n.fused is not None]
    for width, rms in ((24, False), (24, True), (256, False)):   # rows of 256 fp32: the widest tile
        kernels += [n.fused.name for n in norm_fused(width, rms)[1].nodes if n.fused is not None]
        kernels += [n.fused.name for n in norm_grad_fused(3, width, rms)[2].nodes if n.fused is not None]
    from neurarust.graph.horizontal import fuse_horizontally

    mixed = (lambda a, b: (a.sum(0), a.t() @ b, b.t().contiguous()), [(5, 3), (5, 4)], 3)
    columns = (lambda a, b, x: x.t() @ nr.cat([a, b], 1), [(5, 3), (5, 2), (5, 4)], 1)
    for f, shapes, _ in [*HORIZONTAL.values(), mixed, (token_gradients, [(3, 2, 6), (2, 3, 5), (6, 4)], 2),
                         (packed_gradients, PACKED_SHAPES, 6), columns, (mean_backward, [(2, 5), (2, 4, 3)], 2),
                         (copied_tokens, [(3, 2, 6), (2, 3, 5)], 2)]:
        g = capture(f, *[nr.ones(*s) for s in shapes]).graph
        fuse_horizontally(g, [])
        kernels += [n.fused.name for n in g.nodes if n.fused is not None]
    with nr.backends.using("triton"):
        g = capture(attention_then_gradients, nr.ones(3, 4, 12), nr.ones(12, 5)).graph
    fuse_horizontally(g, [])
    kernels += [n.fused.name for n in g.nodes if n.fused is not None]
    ops = ",".join(kernels)
    assert main(["check", "--plugin", "neurarust.graph.cached", "--ops", ops]) == 0
    assert main(["check", "--plugin", "neurarust.graph.cached", "--ops", ops, "--compile", "sm_80,sm_90",
                 "--jobs", "1"]) == 0


AUTOCAST_CHAIN = {  # bfloat16 matmul + float32 bias rounded to bfloat16, then the sum back to float32
    "inputs": [[[4, 16], "bfloat16"], [[16, 4], "bfloat16"], [[4], "float32"]], "shape": [4, 4], "product": True,
    "reduction": None, "dtype": "float32", "device": "cpu",
    "members": [
        {"op": "cast", "operands": [["in", 2]], "params": {"dtype": {"dtype": "bfloat16"}}, "compute": "float32",
         "result": "bfloat16", "fn": "identity", "extras": []},
        {"op": "add", "operands": [["acc", 0], ["tmp", 0]], "params": {"alpha": 1}, "compute": "bfloat16",
         "result": "bfloat16", "fn": "add", "extras": []},
        {"op": "cast", "operands": [["tmp", 1]], "params": {"dtype": {"dtype": "float32"}}, "compute": "bfloat16",
         "result": "float32", "fn": "identity", "extras": []}]}


def test_a_fused_kernel_is_checked_at_the_coarsest_precision_its_chain_rounds_to():
    from neurarust.checking import DEFAULT_TOLERANCES
    from neurarust.graph.fusion import FusedKernel, _as_op

    op = _as_op(FusedKernel.from_spec(AUTOCAST_CHAIN))
    assert op.tolerances == {nr.float32: DEFAULT_TOLERANCES[nr.bfloat16]}


def test_the_cache_plugin_skips_a_kernel_file_older_code_generated():
    from neurarust.graph import cached
    from neurarust.graph.fusion import FusedKernel

    kernel = FusedKernel.from_spec(AUTOCAST_CHAIN)
    path = kernel.write()
    path.write_text(kernel.source.replace("def launch(", "def launch_from_an_older_version("))
    assert kernel.name not in [op.name for op in cached.register_all()]


def test_the_cache_plugin_skips_a_kernel_file_that_does_not_load_with_a_warning():
    from neurarust.graph import cached
    from neurarust.graph.fusion import FusedKernel

    kernel = FusedKernel.from_spec(AUTOCAST_CHAIN)
    path = kernel.write()
    path.write_text(kernel.source.replace("SPEC = {", "SPEC = {'scale': np.float64(0.5), "))  # NumPy 2's repr
    with pytest.warns(UserWarning, match="does not load"):
        assert kernel.name not in [op.name for op in cached.register_all()]
