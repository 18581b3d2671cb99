"""``MultiheadAttention`` and the Transformer layers, with ``torch.nn``'s signatures, parameter names
(``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight``, ``linear1.weight``, ``norm1.weight``, ...)
and defaults, so state dicts exchange with PyTorch::

    >>> import neurarust as nr
    >>> layer = nr.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    >>> layer.eval()(nr.randn(3, 5, 8)).shape
    neurarust.Size([3, 5, 8])

Attention runs the flash-attention kernel (``functional.scaled_dot_product_attention``) unless the
attention weights are asked for (``need_weights=True``): then they are computed with matmul and softmax.
MultiheadAttention's masks follow PyTorch's: a bool ``attn_mask``/``key_padding_mask`` is True where
attention is *not* allowed; a float one is added to the scores.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from neurarust.creation import empty
from neurarust.errors import ArgumentError, ShapeError
from neurarust.tensor import Tensor

from . import functional as F
from . import init
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """``Linear`` under the name PyTorch gives MultiheadAttention's output projection."""


def _check_masks(attn_mask, key_padding_mask, L: int, S: int, N: int, H: int) -> None:
    """PyTorch's mask shapes: ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)``,
    ``key_padding_mask`` ``(N, S)`` (or ``(S,)`` unbatched)."""
    if attn_mask is not None and tuple(attn_mask.shape) not in ((L, S), (N * H, L, S)):
        raise ShapeError(f"MultiheadAttention: attn_mask should have shape {(L, S)} or {(N * H, L, S)}, got "
                         f"{tuple(attn_mask.shape)}")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) not in ((N, S), (S,)):
        raise ShapeError(f"MultiheadAttention: key_padding_mask should have shape {(N, S)}, got "
                         f"{tuple(key_padding_mask.shape)}")


def _check_inputs(query: Tensor, key: Tensor, value: Tensor, key_padding_mask, attn_mask, embed_dim: int,
                  num_heads: int) -> None:
    """PyTorch's checks before any projection: the functional form's ranks and mask dtypes, and the
    query's embedding dim."""
    F._mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads, name="MultiheadAttention")
    if query.shape[-1] != embed_dim:
        raise ShapeError(f"MultiheadAttention: was expecting embedding dimension of {embed_dim}, but got "
                         f"{query.shape[-1]} (query of shape {tuple(query.shape)})")


class MultiheadAttention(Module):
    """Multi-head attention: project ``query``/``key``/``value``, attend per head, project back.

    >>> import neurarust as nr
    >>> mha = nr.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> x = nr.randn(2, 3, 8)
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    (neurarust.Size([2, 3, 8]), neurarust.Size([2, 3, 3]))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ArgumentError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                                f"num_heads={num_heads} instead")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ArgumentError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        kw = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's scheme: Xavier-uniform projections, zero biases, Xavier-normal ``bias_k``/``bias_v``."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """``(attn_output, attn_weights)``; inputs ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or
        unbatched ``(L, E)``; weights ``(N, L, S)`` averaged over heads (``(N, H, L, S)`` otherwise), or
        None when ``need_weights`` is False. The computation is ``F.multi_head_attention_forward``'s."""
        _check_inputs(query, key, value, key_padding_mask, attn_mask, self.embed_dim, self.num_heads)
        batched = query.ndim == 3
        if batched and self.batch_first and query is key and key is value:
            query = key = value = query.transpose(0, 1)
        elif batched and self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        if is_causal and attn_mask is None:
            raise ArgumentError("MultiheadAttention: need attn_mask if specifying the is_causal hint")
        L, N = query.shape[0], (query.shape[1] if batched else 1)
        if key.shape[0] != value.shape[0] or (batched and (key.shape[1] != N or value.shape[1] != N)):
            raise ShapeError(f"MultiheadAttention: key {tuple(key.shape)} and value {tuple(value.shape)} do not "
                             f"match query {tuple(query.shape)}")
        _check_masks(attn_mask, key_padding_mask, L, key.shape[0], N, self.num_heads)
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k,
            self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        return (out.transpose(0, 1) if batched and self.batch_first else out), weights

    def extra_repr(self) -> str:
        return ""


def _activation(activation: str | Callable) -> Callable:
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ArgumentError(f"activation should be relu/gelu, not {activation}")


class _Layer(Module):
    """What the encoder and decoder layers share: the feed-forward block and its norms/dropouts."""

    def _feed_forward_parts(self, d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first,
                            bias, norms, kw):
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        for i in range(1, norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in range(1, norms + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)

    def _ff_block(self, x: Tensor) -> Tensor:
        last = getattr(self, "dropout3", None) or self.dropout2
        return last(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    @staticmethod
    def _residual(x: Tensor, block: Callable, norm: Module, norm_first: bool) -> Tensor:
        return x + block(norm(x)) if norm_first else norm(x + block(x))


class TransformerEncoderLayer(_Layer):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm
    (after, or before with ``norm_first``).

    >>> import neurarust as nr
    >>> layer = nr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    >>> sorted(layer.state_dict())[:3]
    ['linear1.bias', 'linear1.weight', 'linear2.bias']
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self._feed_forward_parts(d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias, 2, kw)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        def attend(x):
            return self.dropout1(self.self_attn(x, x, x, attn_mask=src_mask, key_padding_mask=src_key_padding_mask,
                                                need_weights=False, is_causal=is_causal)[0])

        x = self._residual(src, attend, self.norm1, self.norm_first)
        return self._residual(x, self._ff_block, self.norm2, self.norm_first)


class TransformerDecoderLayer(_Layer):
    """Self-attention, attention over the encoder's ``memory``, then a feed-forward block, each with a
    residual connection and LayerNorm.

    >>> import neurarust as nr
    >>> layer = nr.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16).eval()
    >>> layer(nr.randn(4, 1, 8), nr.randn(6, 1, 8)).shape
    neurarust.Size([4, 1, 8])
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                                 **kw)
        self._feed_forward_parts(d_model, dim_feedforward, dropout, activation, layer_norm_eps, norm_first, bias, 3, kw)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        def self_block(x):
            return self.dropout1(self.self_attn(x, x, x, attn_mask=tgt_mask, key_padding_mask=tgt_key_padding_mask,
                                                need_weights=False, is_causal=tgt_is_causal)[0])

        def memory_block(x):
            return self.dropout2(self.multihead_attn(x, memory, memory, attn_mask=memory_mask,
                                                     key_padding_mask=memory_key_padding_mask, need_weights=False,
                                                     is_causal=memory_is_causal)[0])

        x = self._residual(tgt, self_block, self.norm1, self.norm_first)
        x = self._residual(x, memory_block, self.norm2, self.norm_first)
        return self._residual(x, self._ff_block, self.norm3, self.norm_first)


def _detect_is_causal_mask(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """PyTorch's rule: ``is_causal`` when given, else whether ``mask`` equals the square subsequent mask."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    causal = Transformer.generate_square_subsequent_mask(size, device=mask.device, dtype=mask.dtype)
    return tuple(mask.shape) == tuple(causal.shape) and bool((mask == causal).all())


def _seq_len(x: Tensor, batch_first: bool) -> int:
    return x.shape[0] if x.ndim == 2 or not batch_first else x.shape[1]


def _clones(layer: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` in sequence, then the optional ``norm``.

    >>> import neurarust as nr
    >>> enc = nr.nn.TransformerEncoder(nr.nn.TransformerEncoderLayer(8, 2, 16), num_layers=2)
    >>> len(enc.layers), enc.eval()(nr.randn(5, 2, 8)).shape
    (2, neurarust.Size([5, 2, 8]))
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        first = self.layers[0].self_attn.batch_first if len(self.layers) else False
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, first))
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return out if self.norm is None else self.norm(out)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` in sequence over ``memory``, then the optional ``norm``.

    >>> import neurarust as nr
    >>> dec = nr.nn.TransformerDecoder(nr.nn.TransformerDecoderLayer(8, 2, 16), num_layers=2).eval()
    >>> dec(nr.randn(3, 2, 8), nr.randn(5, 2, 8)).shape
    neurarust.Size([3, 2, 8])
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        first = self.layers[0].self_attn.batch_first if len(self.layers) else False
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _seq_len(tgt, first))
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return out if self.norm is None else self.norm(out)


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need", as ``torch.nn.Transformer``.

    >>> import neurarust as nr
    >>> model = nr.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
    ...                           dim_feedforward=16).eval()
    >>> model(nr.randn(5, 2, 8), nr.randn(3, 2, 8)).shape
    neurarust.Size([3, 2, 8])
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        layer = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                     layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias, **kw)
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **layer), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **layer), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        self._check_src_tgt(src, tgt)
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    def _check_src_tgt(self, src: Tensor, tgt: Tensor) -> None:
        """PyTorch's checks, before the encoder hides the cause in an error of its own."""
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch] != tgt.shape[batch]):
            raise ShapeError(f"Transformer: the batch number of src and tgt must be equal, got src of shape "
                             f"{tuple(src.shape)} and tgt of shape {tuple(tgt.shape)} (batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError(f"Transformer: the feature number of src and tgt must be equal to d_model "
                             f"({self.d_model}), got src of shape {tuple(src.shape)} and tgt of shape {tuple(tgt.shape)}")

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """A float ``(sz, sz)`` mask: -inf above the diagonal (future positions), 0 elsewhere.

        >>> import neurarust as nr
        >>> nr.nn.Transformer.generate_square_subsequent_mask(2).tolist()
        [[0.0, -inf], [0.0, 0.0]]
        """
        import numpy as np

        mask = np.triu(np.full((sz, sz), -np.inf, dtype=np.float32), 1)
        out = Tensor._from_array(mask).to(device or "cpu")
        return out if dtype is None else out.to(dtype)
