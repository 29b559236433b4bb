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
