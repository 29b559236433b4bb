"""nn modules (re-exports)."""
from .module import Module  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict  # noqa: F401
from .layers import (  # noqa: F401
    Identity, Linear, Bilinear, Embedding, LayerNorm, RMSNorm, GroupNorm, Dropout, Flatten, Unflatten, ReLU,
    ReLU6, LeakyReLU, ELU, GELU, SiLU, Mish, Tanh, Sigmoid, Softplus, Softmax, LogSoftmax, Softmin,
)
from .loss import (  # noqa: F401
    L1Loss, MSELoss, SmoothL1Loss, HuberLoss, NLLLoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss, KLDivLoss,
)
from .conv import Conv1d, Conv2d  # noqa: F401
from .pooling import MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d  # noqa: F401
from .batchnorm import BatchNorm1d, BatchNorm2d, GroupNorm  # noqa: F401
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
