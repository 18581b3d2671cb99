"""Graph capture: what the tracer records, and the executor replaying it."""
import pytest

import neurarust as nr
from neurarust.graph import GraphBreak, Program, capture


def test_capture_records_registry_ops_in_call_order():
    g = capture(lambda x, y: (x * y).exp().sum(), nr.ones(3), nr.ones(3)).graph
    assert [n.name for n in g.nodes] == ["mul", "exp", "sum"]
    assert [v.kind for v in g.inputs] == ["input", "input"]


def test_printed_graph_shows_types_and_arguments():
    text = str(capture(lambda x: x * 2, nr.ones(2, 3)).graph)
    assert "%0: float32[2, 3] input" in text and "= mul(%0, 2)" in text and "return %1" in text


def test_views_are_view_nodes_over_their_root_storage():
    g = capture(lambda x: x.t() @ x, nr.ones(2, 3)).graph
    view = g.nodes[0]
    assert view.name == "view" and view.args[0] is g.inputs[0]
    assert view.view[:3] == ((3, 2), (1, 3), 0)


def test_parameters_are_externals_named_by_module_path():
    lin = nr.nn.Linear(3, 2)
    names = {id(p): n for n, p in lin.named_parameters()}
    g = capture(lin, nr.ones(4, 3), names=names).graph
    externals = {v.name: v for v in g.externals()}
    assert set(externals) == {"weight", "bias"}
    assert externals["weight"].tensor is lin.weight


def test_in_place_write_makes_a_new_version_that_later_reads_use():
    def f(x):
        y = x * 1
        y.add_(1)
        return y * 3
    g = capture(f, nr.ones(2)).graph
    write = g.nodes[1]
    (old, new), = write.effects
    assert old is g.nodes[0].outputs[0] and g.nodes[2].args[0] is new


def test_reading_tensor_values_in_python_breaks_the_graph_naming_the_line():
    def f(x):
        if x.sum() > 0:   # the line named
            return x * 2
        return x
    with pytest.raises(GraphBreak, match=r"__bool__.*test_graph_capture.py:\d+: if x.sum\(\) > 0"):
        capture(f, nr.ones(2))


def test_value_reads_inside_ops_do_not_break_the_graph():
    # cross_entropy checks its targets on the host inside the op: part of the op, not user code
    capture(lambda x, t: nr.nn.functional.cross_entropy(x, t), nr.ones(2, 3), nr.tensor([0, 2]))


def test_program_replays_the_graph_on_new_inputs():
    g = capture(lambda x, y: (x @ y.t()).relu() + 1, nr.ones(2, 3), nr.ones(4, 3)).graph
    x, y = nr.randn(2, 3), nr.randn(4, 3)
    (out,) = Program(g).run([x, y])
    assert nr.allclose(out, (x @ y.t()).relu() + 1)


def test_program_reads_parameters_at_each_run():
    lin = nr.nn.Linear(3, 2)
    g = capture(lin, nr.ones(1, 3)).graph
    with nr.no_grad():
        lin.bias.fill_(5.0)
    x = nr.randn(1, 3)
    assert nr.allclose(Program(g).run([x])[0], lin(x))


def test_reading_state_an_op_kept_inside_itself_breaks_the_graph(monkeypatch):
    from neurarust import registry

    monkeypatch.setattr(registry, "capturing", lambda: False)   # cross_entropy then keeps its log-sum-exp
    lin = nr.nn.Linear(4, 3)

    def step(x, y):
        nr.nn.functional.cross_entropy(lin(x), y).backward()
    with nr.backends.using("triton"), pytest.raises(GraphBreak, match="an op made inside itself"):
        capture(step, nr.randn(2, 4), nr.randint(0, 3, (2,)))
