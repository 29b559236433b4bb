"""tensorstein.nn.functional: re-exports only (implementations live in ``nn/_functional``)."""
from ._functional.linear import linear, bilinear  # noqa: F401
from ._functional.activation import (  # noqa: F401
    relu, relu6, leaky_relu, elu, softplus, tanh, sigmoid, hardtanh, gelu, silu, mish, softmax, log_softmax,
    softmin, logsigmoid, normalize, selu, celu, hardsigmoid, hardswish,
)
from ._functional.normalization import layer_norm, rms_norm  # noqa: F401
from ._functional.dropout import dropout, alpha_dropout  # noqa: F401
from ._functional.sparse import embedding, one_hot  # noqa: F401
from ._functional.padding import pad  # noqa: F401
from ._functional.loss import (  # noqa: F401
    cross_entropy, nll_loss, mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy,
    binary_cross_entropy_with_logits, kl_div,
)
from ._functional.attention import multi_head_attention_forward  # noqa: F401
from ._attention import scaled_dot_product_attention  # noqa: F401
from ._functional.conv import conv1d, conv2d  # noqa: F401
from ._functional.pooling import (  # noqa: F401
    max_pool1d, max_pool2d, avg_pool1d, avg_pool2d, adaptive_avg_pool1d, adaptive_avg_pool2d)
from ._functional.batchnorm import batch_norm, group_norm  # noqa: F401
from ._functional.vision import interpolate  # noqa: F401
