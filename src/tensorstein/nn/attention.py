"""Public attention API (``torch.nn.attention`` counterpart).

* :class:`SDPBackend` and the :func:`sdpa_kernel` context manager select the
  implementation (``FLASH_ATTENTION``/``EFFICIENT_ATTENTION``: tiled kernel,
  ``MATH``: tensor-op reference).
* :func:`scaled_dot_product_attention`: torch's signature plus keyword-only
  ``causal_alignment``, ``window``, ``score_mod``, ``mask_mod``, ``return_lse``.
"""

from ._attention import SDPBackend, enabled_backends, scaled_dot_product_attention, sdpa_kernel, select_path

__all__ = ["SDPBackend", "sdpa_kernel", "scaled_dot_product_attention", "enabled_backends",
           "select_path"]
