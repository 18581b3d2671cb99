"""neurarust.nn: modules, layers, losses and initialisers, with PyTorch's names and signatures.

    >>> import neurarust as nr
    >>> net = nr.nn.Sequential(nr.nn.Linear(4, 8), nr.nn.ReLU(), nr.nn.Linear(8, 2))
    >>> net(nr.ones(3, 4)).shape
    neurarust.Size([3, 2])

See docs/nn.md for every layer and its status.
"""
from __future__ import annotations

from . import functional, init, utils
from .activation import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU,
                         LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, RReLU, Sigmoid, SiLU, Softmax, Softmax2d, Softmin,
                         Softplus, Softshrink, Softsign, Tanh, Tanhshrink, Threshold)
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, CTCLoss, DistillationLoss,
                   HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss, MSELoss, NLLLoss, SmoothL1Loss, TripletMarginLoss)
from .module import Module, StateDictError
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm, RMSNorm
from .parameter import Parameter, UninitializedBuffer, UninitializedParameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                      AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d,
                      MaxUnpool2d)
from .sparse import Embedding, EmbeddingBag
from .upsampling import (ChannelShuffle, PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d,
                         UpsamplingNearest2d)
from .transformer import (MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from .distance import CosineSimilarity, PairwiseDistance
from .fold import Fold, Unfold
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d, LazyConv3d,
                   LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d,
                   LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear, LazyModuleMixin)
from .loss import (GaussianNLLLoss, HingeEmbeddingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                   MultiMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginWithDistanceLoss)
from .normalization import BatchNorm3d, InstanceNorm1d, InstanceNorm3d, LocalResponseNorm, SyncBatchNorm
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .container import Container
from .linear_cross_entropy import LinearCrossEntropyOptions
from .loss import LinearCrossEntropyLoss, NLLLoss2d
from .normalization import CrossMapLRN2d
from .pooling import FractionalMaxPool2d, FractionalMaxPool3d, LPPool1d, LPPool2d, LPPool3d, MaxUnpool3d
from .rnn import RNNCellBase
from .padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d,
                      ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d,
                      ReplicationPad3d, ZeroPad1d, ZeroPad2d, ZeroPad3d)

__all__ = ["Module", "Parameter", "UninitializedParameter", "UninitializedBuffer", "LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "StateDictError", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", "Identity", "Linear", "Bilinear", "Flatten", "Unflatten", "Dropout", "Embedding",
           "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid", "Softmax",
           "LogSoftmax", "Softplus", "Hardtanh", "PReLU",
           "Hardswish", "Hardsigmoid", "SELU", "CELU", "LogSigmoid", "Softsign", "Hardshrink", "Softshrink",
           "Tanhshrink", "Threshold", "GLU", "Softmin", "Softmax2d", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "KLDivLoss", "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "CosineEmbeddingLoss",
           "MarginRankingLoss", "TripletMarginLoss", "CTCLoss", "DistillationLoss", "functional", "init", "utils",
           "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d",
           "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
           "BatchNorm1d", "BatchNorm2d", "GroupNorm", "InstanceNorm2d", "LayerNorm", "RMSNorm",
           "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerDecoder", "Transformer",
           "RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
           "Dropout1d", "Dropout2d", "Dropout3d", "EmbeddingBag",
           "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "CosineSimilarity",
           "PairwiseDistance", "Fold", "Unfold", "AdaptiveMaxPool1d", "MaxUnpool1d", "MaxUnpool2d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "ChannelShuffle", "LocalResponseNorm", "TripletMarginWithDistanceLoss", "MultiLabelMarginLoss", "AlphaDropout", "FeatureAlphaDropout", "RReLU", "PoissonNLLLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiMarginLoss", "InstanceNorm1d", "InstanceNorm3d", "BatchNorm3d",
           "SyncBatchNorm", "LPPool1d", "LPPool2d", "LPPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d",
           "MaxUnpool3d", "AdaptiveLogSoftmaxWithLoss", "RNNCellBase", "CrossMapLRN2d", "NLLLoss2d", "Container",
           "LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]
