"""nn.utils: gradient clipping and parameter/vector conversion."""
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grad_norm, get_total_norm, clip_grads_with_norm_  # noqa: F401,E501
from .clip_grad import parameters_to_vector, vector_to_parameters  # noqa: F401
