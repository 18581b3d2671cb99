"""Differences from PyTorch found reviewing attention and the Transformer layers: the mask dtypes
``scaled_dot_product_attention`` accepts, and the clear errors MultiheadAttention and Transformer
raise for inputs and masks of the wrong rank, size or dtype."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import neurarust as nr  # noqa: E402
import neurarust.nn.functional as F  # noqa: E402
from neurarust import nn  # noqa: E402
from neurarust.errors import DTypeError, ShapeError  # noqa: E402

RNG = np.random.default_rng(11)
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")


def randn(*shape, dtype=np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy(force=True)


def _copied(make):
    """(ours, theirs) built by ``make(lib)``, ours holding theirs' weights, both in eval mode."""
    torch.manual_seed(0)
    theirs, ours = make(torch).eval(), make(nr).eval()
    ours.load_state_dict({k: nr.tensor(_np(v)) for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_sdpa_casts_a_float32_mask_to_a_float64_query_as_torch(backend):
    q, k, v = randn(1, 2, 3, 4, dtype=np.float64), randn(1, 2, 5, 4, dtype=np.float64), randn(1, 2, 5, 4, dtype=np.float64)
    mask = np.round(RNG.uniform(-2, 0, (3, 5)), 1).astype(np.float32)
    ours = [nr.tensor(x, requires_grad=True) for x in (q, k, v)]
    theirs = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    with nr.backends.using(backend):
        out = F.scaled_dot_product_attention(*ours, attn_mask=nr.tensor(mask))
        out.sum().backward()
    ref = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=torch.tensor(mask))
    ref.sum().backward()
    assert out.dtype is nr.float64
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-10, atol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw,head_dim", [({"dropout_p": 0.5}, 4), ({}, 130)], ids=["dropout", "head_dim_over_128"])
def test_sdpa_rejects_an_integer_mask_on_the_composed_path(kw, head_dim):
    q = randn(1, 2, 3, head_dim)
    with pytest.raises(RuntimeError):
        torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(q),) * 3, attn_mask=torch.ones(3, 3, dtype=torch.int64), **kw)
    with pytest.raises(DTypeError, match="attn_mask.*int64"):
        F.scaled_dot_product_attention(*(nr.tensor(q),) * 3, attn_mask=nr.ones(3, 3, dtype=nr.int64), **kw)


def test_float64_encoder_layer_takes_the_float32_square_subsequent_mask():
    ours, theirs = _copied(lambda lib: lib.nn.TransformerEncoderLayer(8, 2, 16).double())
    x = randn(4, 2, 8, dtype=np.float64)
    mask = nn.Transformer.generate_square_subsequent_mask(4)          # float32, as torch's
    got = ours(nr.tensor(x), src_mask=mask)
    want = theirs(torch.tensor(x), src_mask=torch.nn.Transformer.generate_square_subsequent_mask(4))
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("which", ["attn_mask", "key_padding_mask"])
def test_multihead_attention_rejects_integer_masks(which, need_weights):
    ours, theirs = _copied(lambda lib: lib.nn.MultiheadAttention(8, 2))
    x = randn(4, 3, 8)
    shape = (4, 4) if which == "attn_mask" else (3, 4)
    with pytest.raises(AssertionError):
        theirs(*(torch.tensor(x),) * 3, **{which: torch.zeros(shape, dtype=torch.int64)}, need_weights=need_weights)
    with pytest.raises(DTypeError, match=f"{which}.*int64"):
        ours(*(nr.tensor(x),) * 3, **{which: nr.zeros(shape, dtype=nr.int64)}, need_weights=need_weights)


@pytest.mark.parametrize("shape", [(8,), (1, 4, 3, 8)], ids=["1d", "4d"])
def test_multihead_attention_rejects_a_query_neither_2d_nor_3d(shape):
    x = nr.tensor(randn(*shape))
    with pytest.raises(ShapeError, match=f"{len(shape)}-D query"):
        nn.MultiheadAttention(8, 2)(x, x, x)


@pytest.mark.parametrize("q_shape,kv_shape", [((4, 8), (5, 3, 8)), ((4, 3, 8), (5, 8))], ids=["unbatched_q", "batched_q"])
def test_multihead_attention_rejects_key_and_value_of_another_rank_than_the_query(q_shape, kv_shape):
    kv = nr.tensor(randn(*kv_shape))
    with pytest.raises(ShapeError, match=f"{len(kv_shape)}-D"):
        nn.MultiheadAttention(8, 2)(nr.tensor(randn(*q_shape)), kv, kv)


def test_multihead_attention_rejects_a_query_of_another_embedding_dim():
    x = nr.tensor(randn(4, 3, 6))
    with pytest.raises(ShapeError, match="embedding dimension of 8, but got 6"):
        nn.MultiheadAttention(8, 2)(x, x, x)


def test_unbatched_multihead_attention_rejects_a_2d_key_padding_mask():
    x = nr.tensor(randn(4, 8))
    with pytest.raises(ShapeError, match="key_padding_mask to be None or 1-D"):
        nn.MultiheadAttention(8, 2)(x, x, x, key_padding_mask=nr.zeros(1, 4, dtype=nr.bool_))


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_rejects_src_and_tgt_of_different_batch_sizes(batch_first):
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=batch_first).eval()
    src, tgt = (randn(2, 5, 8), randn(3, 4, 8)) if batch_first else (randn(5, 2, 8), randn(4, 3, 8))
    with pytest.raises(ShapeError, match="batch number of src and tgt"):
        model(nr.tensor(src), nr.tensor(tgt))


def test_transformer_rejects_src_and_tgt_features_other_than_d_model():
    model = nn.Transformer(8, 2, 1, 1, 16).eval()
    with pytest.raises(ShapeError, match="d_model"):
        model(nr.tensor(randn(5, 2, 6)), nr.tensor(randn(4, 2, 6)))
