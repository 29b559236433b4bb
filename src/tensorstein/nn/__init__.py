"""tensorstein.nn: modules, parameters, init, functional (re-exports only)."""
from .parameter import Parameter, Buffer  # noqa: F401
from .modules import (  # noqa: F401
    Conv1d, Conv2d, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d, BatchNorm1d,
    BatchNorm2d, RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell)
from .modules import (  # noqa: F401
    Module, Sequential, ModuleList, ModuleDict,
    Identity, Linear, Bilinear, Embedding, LayerNorm, RMSNorm, GroupNorm, Dropout, Flatten, Unflatten,
    ReLU, ReLU6, LeakyReLU, ELU, GELU, SiLU, Mish, Tanh, Sigmoid, Softplus, Softmax, LogSoftmax, Softmin,
    L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss,
    MultiheadAttention, TransformerEncoderLayer, TransformerEncoder, Transformer, TransformerDecoderLayer,
    TransformerDecoder,
)
from . import attention, functional, init, parallel, utils  # noqa: F401
