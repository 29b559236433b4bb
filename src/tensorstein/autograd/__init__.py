"""Automatic differentiation: ``grad``, ``backward``, ``gradcheck``, custom ``Function``s, grad modes."""
from .._autograd.function import Function, FunctionCtx  # noqa: F401
from .._autograd.functional import backward, grad  # noqa: F401
from .._autograd.gradcheck import gradcheck, GradcheckError  # noqa: F401
from .._autograd.grad_mode import no_grad, enable_grad, inference_mode, set_grad_enabled  # noqa: F401
