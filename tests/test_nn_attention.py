"""Attention: functional.scaled_dot_product_attention (the flash kernel and the plain composition)
against torch, forward and backward; MultiheadAttention and the Transformer layers against torch.nn
with copied state dicts, forward and backward, in eval mode (dropout off)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn

RNG = np.random.default_rng(5)
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


def randn(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy(force=True)


def _both(arr, requires_grad=False):
    return nr.tensor(arr, requires_grad=requires_grad), torch.tensor(arr, requires_grad=requires_grad)


def _check_sdpa(q, k, v, rtol=1e-5, atol=1e-5, mask=None, **kw):
    ours, theirs = zip(*(_both(x, True) for x in (q, k, v)))
    m_ours, m_theirs = (None, None) if mask is None else _both(mask)
    out = F.scaled_dot_product_attention(*ours, attn_mask=m_ours, **kw)
    ref = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=m_theirs, **kw)
    np.testing.assert_allclose(_np(out), _np(ref), rtol=rtol, atol=atol)
    w = randn(*ref.shape)
    (out * nr.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b, name in zip(ours, theirs, "qkv"):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=rtol, atol=atol, err_msg=f"d{name}")


SDPA_CASES = [
    ("plain_d8", (2, 2, 5, 7, 8, 8), {}),
    ("causal_d16", (1, 2, 16, 16, 16, 16), {"is_causal": True}),
    ("causal_more_keys", (2, 1, 4, 9, 8, 8), {"is_causal": True, "scale": 0.3}),
    ("value_dim_differs", (1, 2, 6, 5, 16, 8), {}),
    ("bool_mask", (2, 2, 5, 7, 8, 8), {"mask": "bool"}),
    ("float_mask", (1, 2, 4, 6, 8, 8), {"mask": "float"}),
    ("gqa", (1, 4, 3, 5, 8, 8), {"enable_gqa": True}),
]


# The interpreter is slow: two Triton cases (causal, and a bool mask with a dead row) cover the kernels.
SDPA_PARAMS = [pytest.param(*c, "reference", id=f"{c[0]}-reference") for c in SDPA_CASES] + \
    [pytest.param(*c, "triton", id=f"{c[0]}-triton") for c in SDPA_CASES if c[0] in ("causal_more_keys", "bool_mask")]


@pytest.mark.parametrize("name,shape,kw,backend", SDPA_PARAMS)
def test_sdpa_matches_torch(name, shape, kw, backend):
    B, H, L, S, E, Ev = shape
    kw = dict(kw)
    heads_kv = H // 2 if kw.get("enable_gqa") else H
    q, k, v = randn(B, H, L, E), randn(B, heads_kv, S, E), randn(B, heads_kv, S, Ev)
    mask = kw.pop("mask", None)
    if mask == "bool":
        mask = RNG.random((B, 1, L, S)) < 0.7
        mask[0, 0, 1] = False  # a query that sees no key: zeros, zero gradients
    elif mask == "float":
        mask = np.round(RNG.uniform(-2, 0, (L, S)), 1).astype(np.float32)
    with nr.backends.using(backend):
        _check_sdpa(q, k, v, mask=mask, **kw)


def test_sdpa_with_scores_past_exps_safe_range_matches_torch():
    """Scores of +-100s: the CPU path shifts rows by their max (gradients are large: a looser atol)."""
    _check_sdpa(randn(1, 2, 5, 8), randn(1, 2, 7, 8), randn(1, 2, 7, 8), atol=1e-4, scale=30.0)


def test_sdpa_with_dropout_composes_plain_ops_and_is_seeded():
    q, k, v = (nr.tensor(randn(1, 2, 4, 8)) for _ in range(3))
    nr.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    nr.manual_seed(3)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), F.scaled_dot_product_attention(q, k, v).numpy())


def _sdpa_grads(q, k, v, g, stale=lambda q: None):
    """dq, dk, dv of ``sum(sdpa(q, k, v) * g)``, with ``stale(q)`` run between forward and backward."""
    ours = [nr.tensor(x, requires_grad=True) for x in (q, k, v)]
    out = F.scaled_dot_product_attention(*ours, is_causal=True)
    stale(ours[0])
    (out * nr.tensor(g)).sum().backward()
    return [_np(t.grad) for t in ours]


def _torch_sdpa_grads(q, k, v, g):
    theirs = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    (torch.nn.functional.scaled_dot_product_attention(*theirs, is_causal=True) * torch.tensor(g)).sum().backward()
    return [_np(t.grad) for t in theirs]


def test_cpu_backward_reuses_the_probabilities_its_forward_kept():
    from neurarust.kernels import attention

    q, k, v, g = (randn(1, 2, 6, 8) for _ in range(4))
    used = []
    take = attention._take_kept
    attention._take_kept = lambda *a: used.append(take(*a)) or used[-1]
    try:
        got = _sdpa_grads(q, k, v, g)
    finally:
        attention._take_kept = take
    assert used[0] is not None and attention._kept.entry is None   # used, then dropped
    for a, b in zip(got, _torch_sdpa_grads(q, k, v, g)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_cpu_backward_recomputes_the_probabilities_of_another_forward():
    """A later forward on other values replaces the kept entry: this backward rebuilds its own."""
    q, k, v, g = (randn(1, 2, 6, 8) for _ in range(4))
    other = [nr.tensor(randn(1, 2, 6, 8), requires_grad=True) for _ in range(3)]
    got = _sdpa_grads(q, k, v, g, stale=lambda _: F.scaled_dot_product_attention(*other, is_causal=True))
    for a, b in zip(got, _torch_sdpa_grads(q, k, v, g)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_cpu_backward_recomputes_the_probabilities_of_a_query_written_in_place():
    from neurarust.kernels.attention import _torch_backward
    from neurarust.registry import call

    q, k, v = (nr.tensor(randn(1, 2, 6, 8), requires_grad=True) for _ in range(3))
    _, lse = call("flash_attention", q, k, v)
    with nr.no_grad():
        q.mul_(2.0)                                    # a new version of q's storage: the kept P is stale
        g, delta = nr.tensor(randn(1, 2, 6, 8)), nr.tensor(randn(1, 2, 6))
        got = call("flash_attention_backward", g, q, k, v, lse, delta)
    want = _torch_backward(*(torch.tensor(_np(t)) for t in (g, q, k, v, lse, delta)))
    for a, b in zip(got, want):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-5)


def _saved_bytes(out, inputs) -> int:
    """Bytes of the distinct tensors the graph behind ``out`` keeps for backward, ``inputs`` excluded."""
    from neurarust.autograd.graph import SavedTensor, _ResultTuple

    skip = {(t._storage.data_ptr(), t._offset) for t in inputs}
    seen, found, stack = set(), {}, [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        values = list(getattr(node, "saved", {}).values()) if isinstance(getattr(node, "saved", None), dict) else []
        for v in values:
            items = v.saved if isinstance(v, _ResultTuple) else v if isinstance(v, list) else [v]
            for item in items:
                t = item.data if isinstance(item, SavedTensor) else None
                if t is not None and (t._storage.data_ptr(), t._offset) not in skip:
                    found[(t._storage.data_ptr(), t._offset, tuple(t.shape))] = t.numel() * t.dtype.itemsize
        stack.extend(n for n, _ in node.next_functions)
    return sum(found.values())


def test_flash_path_saves_memory_linear_in_sequence_length():
    """For backward the flash node keeps its output and one fp32 log-sum-exp per query; softmax +
    matmul keeps the ``B x H x L x S`` probabilities (here 64 x 64 per head: 16x more)."""
    B, H, L, E = 1, 2, 64, 16
    q, k, v = (nr.tensor(randn(B, H, L, E), requires_grad=True) for _ in range(3))
    flash = _saved_bytes(F.scaled_dot_product_attention(q, k, v), (q, k, v))
    plain = _saved_bytes(F._plain_attention(q, k, v, None, 0.0, False, None)[0], (q, k, v))
    assert flash == 4 * B * H * L * E + 4 * B * H * L  # output + log-sum-exp
    assert plain >= 4 * B * H * L * L  # the probabilities
    assert plain / flash > 3


def _copy(ours: nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()


def _check_module(ours, theirs, inputs, call=lambda m, *x: m(*x), rtol=1e-4, atol=1e-5, pick=lambda r: r):
    _copy(ours, theirs)
    pairs = [_both(x, x.dtype.kind == "f") if isinstance(x, np.ndarray) else (x, x) for x in inputs]
    out, ref = pick(call(ours, *(p[0] for p in pairs))), pick(call(theirs, *(p[1] for p in pairs)))
    np.testing.assert_allclose(_np(out), _np(ref), rtol=rtol, atol=atol)
    w = randn(*ref.shape)
    (out * nr.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b in pairs:
        if isinstance(b, torch.Tensor) and b.requires_grad:
            if b.grad is None:  # torch took a path that ignores the input (a mask it found causal)
                assert a.grad is None or not np.any(_np(a.grad))
                continue
            np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    assert sorted(theirs_params) == sorted(n for n, _ in ours.named_parameters())
    for name, p in ours.named_parameters():
        if theirs_params[name].grad is None:
            assert p.grad is None or not np.any(_np(p.grad)), name
            continue
        np.testing.assert_allclose(_np(p.grad), _np(theirs_params[name].grad), rtol=rtol, atol=atol, err_msg=name)


MHA_CASES = [
    ("weights_averaged", dict(embed_dim=8, num_heads=2), (4, 2), (5,), dict(need_weights=True)),
    ("flash_no_weights", dict(embed_dim=8, num_heads=2), (4, 2), (6,), dict(need_weights=False)),
    ("batch_first_per_head_weights", dict(embed_dim=8, num_heads=2, batch_first=True), (2, 4), (2, 3),
     dict(need_weights=True, average_attn_weights=False)),
    ("kdim_vdim_no_bias", dict(embed_dim=8, num_heads=2, kdim=6, vdim=4, bias=False), (3, 2), (5,),
     dict(need_weights=False)),
    ("bias_kv_zero_attn", dict(embed_dim=8, num_heads=2, add_bias_kv=True, add_zero_attn=True), (3, 2), (4,),
     dict(need_weights=False)),
    ("masks", dict(embed_dim=8, num_heads=2), (4, 2), (5,), dict(need_weights=False, masks=True)),
    ("masks_weights", dict(embed_dim=8, num_heads=2), (4, 2), (5,), dict(need_weights=True, masks=True)),
    ("causal_hint", dict(embed_dim=8, num_heads=2), (4, 2), (4,), dict(need_weights=False, causal=True)),
    ("unbatched", dict(embed_dim=8, num_heads=2), (4,), (), dict(need_weights=True)),
]


@pytest.mark.parametrize("name,cfg,q_shape,s_shape,kw", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_multihead_attention_matches_torch(name, cfg, q_shape, s_shape, kw):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(**cfg)
    ours = nn.MultiheadAttention(**cfg)
    E, kdim, vdim = cfg["embed_dim"], cfg.get("kdim", cfg["embed_dim"]), cfg.get("vdim", cfg["embed_dim"])
    kw = dict(kw)
    first = cfg.get("batch_first")
    L = q_shape[1] if first else q_shape[0]
    N = q_shape[0] if first else (q_shape[1] if len(q_shape) > 1 else None)
    S = s_shape[-1] if first else s_shape[0] if s_shape else 5
    lead = lambda n: ((N, n) if first else (n, N)) if N is not None else (n,)  # noqa: E731
    inputs = [randn(*lead(L), E), randn(*lead(S), kdim), randn(*lead(S), vdim)]
    extra = {"need_weights": kw.pop("need_weights"), "average_attn_weights": kw.pop("average_attn_weights", True)}
    masks = kw.pop("masks", False)
    if kw.pop("causal", False):
        extra["is_causal"] = True
        extra["attn_mask"] = np.triu(np.ones((L, S), bool), 1)
    mask_arrays = []
    if masks:
        mask_arrays = [np.triu(np.ones((L, S), bool), 2), np.zeros((N, S), bool)]
        mask_arrays[1][0, -1] = True

    def call(m, q, k, v, *ms):
        lib = torch if isinstance(q, torch.Tensor) else nr
        kws = {k2: (lib.tensor(v2) if isinstance(v2, np.ndarray) else v2) for k2, v2 in extra.items()}
        if ms:
            kws["attn_mask"], kws["key_padding_mask"] = ms
        return m(q, k, v, **kws)

    def pick_output(r):
        return r[0]

    _check_module(ours, theirs, inputs + mask_arrays, call, pick=pick_output)
    if extra["need_weights"]:  # the weights too, on fresh graphs
        pairs = [_both(x) for x in inputs + mask_arrays]
        got = call(ours, *(p[0] for p in pairs))[1]
        want = call(theirs, *(p[1] for p in pairs))[1]
        np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-6)


LAYER_CASES = [
    ("encoder_post_norm_relu", lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1), "enc"),
    ("encoder_pre_norm_gelu_batch_first",
     lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True, norm_first=True), "enc"),
    ("encoder_no_bias", lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16, bias=False), "enc"),
    ("decoder_post_norm", lambda lib: lib.nn.TransformerDecoderLayer(8, 2, 16), "dec"),
    ("decoder_pre_norm_gelu", lambda lib: lib.nn.TransformerDecoderLayer(8, 2, 16, activation="gelu",
                                                                         norm_first=True), "dec"),
    ("encoder_stack", lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 16), 2,
                                                             norm=lib.nn.LayerNorm(8)), "enc"),
    ("decoder_stack", lambda lib: lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(8, 2, 16), 2), "dec"),
    ("transformer", lambda lib: lib.nn.Transformer(8, 2, 1, 1, 16), "seq2seq"),
]


@pytest.mark.parametrize("name,make,kind", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_transformer_layers_match_torch(name, make, kind):
    torch.manual_seed(1)
    theirs, ours = make(torch), make(nr)
    src, tgt = randn(5, 2, 8), randn(3, 2, 8)
    if "batch_first" in name:
        src = np.ascontiguousarray(src.transpose(1, 0, 2))
    if kind == "enc":
        mask = np.triu(np.ones((5, 5), bool), 1)

        def call(m, x, mask):
            return m(x, mask)

        _check_module(ours, theirs, [src, mask], call)
    elif kind == "dec":
        tgt_mask = np.triu(np.full((3, 3), -np.inf, np.float32), 1)

        def call(m, x, memory, tgt_mask):
            return m(x, memory, tgt_mask=tgt_mask)

        _check_module(ours, theirs, [tgt, src, tgt_mask], call)
    else:
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(3).numpy()
        np.testing.assert_array_equal(tgt_mask, torch.nn.Transformer.generate_square_subsequent_mask(3).numpy())

        def call(m, s, t, tgt_mask):
            return m(s, t, tgt_mask=tgt_mask)

        _check_module(ours, theirs, [src, tgt, tgt_mask], call)


def test_state_dicts_exchange_and_reprs_match():
    for make in (lambda lib: lib.nn.MultiheadAttention(8, 2), lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16),
                 lambda lib: lib.nn.TransformerDecoderLayer(8, 2, 16)):
        ours, theirs = make(nr), make(torch)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        theirs.load_state_dict({k: torch.from_numpy(_np(v).copy()) for k, v in ours.state_dict().items()})
        # (LayerNorm's repr is nn/normalization.py's business: compared for MultiheadAttention only)
        assert repr(ours) == repr(theirs) or not isinstance(ours, nn.MultiheadAttention)


def test_encoder_layer_on_the_triton_backend():
    torch.manual_seed(2)
    theirs, ours = torch.nn.TransformerEncoderLayer(8, 2, 16), nn.TransformerEncoderLayer(8, 2, 16)
    before = nr.backends.launch_counts["flash_attention"]
    with nr.backends.using("triton"):
        _check_module(ours, theirs, [randn(3, 1, 8)], rtol=1e-4, atol=1e-5)
    assert nr.backends.launch_counts["flash_attention"] > before


def test_flash_output_takes_the_query_layout_so_merging_heads_is_a_view():
    L, N, H, hd = 3, 2, 2, 4
    proj = nr.tensor(randn(L, N, 3 * H * hd))
    q, k, v = (proj[..., i * H * hd:(i + 1) * H * hd].reshape(L, N, H, hd).permute(1, 2, 0, 3) for i in range(3))
    with nr.backends.using("triton"):
        out = nr.registry.call("flash_attention", q, k, v)[0]
        merged = out.permute(2, 0, 1, 3).reshape(L * N, H * hd)
    assert merged.is_contiguous() and merged._storage is out._storage     # (L, N, H, hd) in memory: no copy
    want = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(t.numpy()) for t in (q, k, v)))
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_flash_output_of_a_query_whose_batch_dims_are_out_of_order_is_right():
    q = nr.tensor(randn(3, 2, 2, 4, 8)).transpose(0, 1)          # batch dims swapped in memory
    k, v = nr.tensor(randn(2, 3, 2, 4, 8)), nr.tensor(randn(2, 3, 2, 4, 8))
    with nr.backends.using("triton"):
        out = nr.registry.call("flash_attention", q, k, v)[0]
    want = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(t.numpy()) for t in (q, k, v)))
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def _torch_grads(q, k, v, g):
    tq, tk, tv = (torch.tensor(t.numpy(), requires_grad=True) for t in (q, k, v))
    torch.nn.functional.scaled_dot_product_attention(tq, tk, tv).backward(torch.tensor(g.numpy()))
    return tq.grad, tk.grad, tv.grad


def test_flash_gradients_take_their_inputs_layouts_so_merging_heads_is_a_view():
    L, N, H, hd = 3, 2, 2, 4
    proj = nr.tensor(randn(L, N, 3 * H * hd))
    qkv = [proj[..., i * H * hd:(i + 1) * H * hd].reshape(L, N, H, hd).permute(1, 2, 0, 3) for i in range(3)]
    with nr.backends.using("triton"):
        out, lse = nr.registry.call("flash_attention", *qkv)
        g = nr.tensor(randn(*out.shape))
        grads = nr.registry.call("flash_attention_backward", g, *qkv, lse, (g * out).sum(-1))
    for grad, want in zip(grads, _torch_grads(*qkv, g)):
        merged = grad.permute(2, 0, 1, 3).reshape(L, N, H * hd)
        assert merged.is_contiguous() and merged._storage is grad._storage   # (L, N, H, hd) in memory: no copy
        np.testing.assert_allclose(grad.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_flash_gradients_of_inputs_whose_batch_dims_are_out_of_order_are_right():
    q = nr.tensor(randn(3, 2, 2, 4, 8)).transpose(0, 1)          # batch dims swapped in memory
    k, v = nr.tensor(randn(2, 3, 2, 4, 8)), nr.tensor(randn(2, 3, 2, 4, 8)).transpose(-2, -1).contiguous().transpose(-2, -1)
    with nr.backends.using("triton"):
        out, lse = nr.registry.call("flash_attention", q, k, v)
        g = nr.tensor(randn(*out.shape))
        grads = nr.registry.call("flash_attention_backward", g, q, k, v, lse, (g * out).sum(-1))
    for grad, want in zip(grads, _torch_grads(q, k, v, g)):
        np.testing.assert_allclose(grad.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_flash_backward_computes_delta_from_the_output_when_not_given(backend):
    q, k, v = (nr.tensor(randn(1, 2, 5, 8)) for _ in range(3))
    with nr.backends.using(backend):
        out, lse = nr.registry.call("flash_attention", q, k, v, is_causal=True)
        g = nr.tensor(randn(*out.shape))
        given = nr.registry.call("flash_attention_backward", g, q, k, v, lse, (g * out).sum(-1), is_causal=True)
        found = nr.registry.call("flash_attention_backward", g, q, k, v, lse, None, is_causal=True, output=out)
    for a, b in zip(found, given):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_flash_backward_needs_delta_or_the_output():
    q = nr.ones(1, 2, 4)
    with pytest.raises(nr.errors.ArgumentError, match="delta"):
        nr.registry.call("flash_attention_backward", q, q, q, q, nr.zeros(1, 2), None)


def test_an_attention_backward_launches_two_kernels_and_no_delta_of_its_own():
    q, k, v = (nr.tensor(randn(1, 2, 4, 8), requires_grad=True) for _ in range(3))
    with nr.backends.using("triton"):
        out = F.scaled_dot_product_attention(q, k, v)
        g = nr.tensor(randn(*out.shape))
        nr.backends.launch_counts.clear()
        out.backward(g)
        launched = dict(nr.backends.launch_counts)
    assert launched == {"flash_attention_backward_dq": 1, "flash_attention_backward": 1}, launched
