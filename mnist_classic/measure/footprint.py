"""What a fitted model costs to ship and to answer one request: its bytes, its parameters, its multiply-adds.

Each figure is measured on the fitted object, never estimated from its
hyper-parameters:

- :func:`model_bytes`: the estimator pickled (protocol 5), or for a network
  (an estimator, or a pipeline's last step, with ``module_``) its state dict
  saved by ``torch.save`` (weights and buffers: what a deployment loads);
- :func:`classical_n_params`: the learned numbers of a classical model where
  the count means something (linear coefficients and intercepts, support
  vectors x features, tree nodes, PCA components, MLP weights), else None;
- :func:`forward_macs`: the multiply-accumulates of one forward pass of a
  network on one image, counted by torch's own ``FlopCounterMode``.
"""

from __future__ import annotations

import io
import logging
import pickle
from typing import Any

__all__ = ["IMAGE_SHAPE", "classical_n_params", "final_step", "forward_macs", "model_bytes"]

logger = logging.getLogger(__name__)

#: The shape of one image as the suite's networks take it: (batch, channels, height, width).
IMAGE_SHAPE: tuple[int, int, int, int] = (1, 1, 28, 28)


def final_step(est: Any) -> Any:
    """The estimator itself, or a pipeline's last step."""
    return est.steps[-1][1] if hasattr(est, "steps") else est


def model_bytes(est: Any) -> tuple[int | None, str]:
    """Bytes of the fitted model serialized, and what was counted (or why nothing was).

    Parameters
    ----------
    est : estimator
        A fitted estimator or pipeline.

    Returns
    -------
    n_bytes : int or None
        ``len(pickle.dumps(est, protocol=5))``; for a network (``module_`` on
        the estimator or the pipeline's last step) the length of its state
        dict written by ``torch.save`` (the steps before a network, if any,
        are not counted). None when the model cannot be serialized.
    what : str
        ``"pickle"`` or ``"state_dict"``, or the reason no size was taken
        (the exception, in one line).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import numpy as np
    >>> n, what = model_bytes(LogisticRegression().fit(np.eye(4), [0, 1, 0, 1]))
    >>> what, n > 0
    ('pickle', True)
    """
    network = getattr(final_step(est), "module_", None)
    try:
        if network is not None:
            import torch

            buf = io.BytesIO()
            torch.save(network.state_dict(), buf)
            return buf.getbuffer().nbytes, "state_dict"
        return len(pickle.dumps(est, protocol=5)), "pickle"
    except Exception as exc:  # an unpicklable model is a measurement that cannot be taken, not a failed case
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        return None, reason


def _tree_nodes(tree_like: Any) -> int | None:
    tree = getattr(tree_like, "tree_", None)
    return int(tree.node_count) if tree is not None else None


def _step_params(step: Any) -> int | None:
    """The learned numbers of one fitted step, or None where no count is meaningful (kNN, unknown kinds)."""
    import numpy as np

    if (nodes := _tree_nodes(step)) is not None:
        return nodes
    members = getattr(step, "estimators_", None)
    if members is not None:  # forests, extra trees, gradient boosting (a 2-D array of trees)
        counts = [_tree_nodes(m) for m in np.asarray(members, dtype=object).ravel()]
        nodes_each = [c for c in counts if c is not None]
        return sum(nodes_each) if counts and len(nodes_each) == len(counts) else None
    predictors = getattr(step, "_predictors", None)
    if predictors is not None:  # HistGradientBoosting: one list of tree predictors per iteration
        return int(sum(len(p.nodes) for it in predictors for p in it))
    if hasattr(step, "support_vectors_"):
        return int(np.asarray(step.support_vectors_).size)
    if hasattr(step, "coefs_"):  # MLP
        return int(sum(np.size(w) for w in step.coefs_) + sum(np.size(b) for b in step.intercepts_))
    if hasattr(step, "coef_"):
        return int(np.size(step.coef_) + np.size(getattr(step, "intercept_", 0)))
    if hasattr(step, "components_"):  # PCA, Nystroem (its components are kept training images)
        return int(np.size(step.components_))
    if type(step).__name__ in _NO_LEARNED_PARAMS:
        return 0
    if hasattr(step, "mean_") and hasattr(step, "scale_"):  # StandardScaler
        return int(np.size(step.mean_) + np.size(step.scale_))
    if hasattr(step, "scale_") and hasattr(step, "min_"):  # MinMaxScaler
        return int(np.size(step.scale_) + np.size(step.min_))
    return None


#: Steps that learn nothing from the data (their transform is fixed).
_NO_LEARNED_PARAMS = frozenset({"Deskew", "FunctionTransformer", "Normalizer", "Binarizer"})


def classical_n_params(est: Any) -> int | None:
    """Learned numbers of a fitted classical model, where the count is meaningful; else None.

    Counted: a linear model's ``coef_`` and ``intercept_``; an SVM's support
    vectors x features (``support_vectors_.size``); a tree's, forest's or
    boosted ensemble's nodes; an MLP's weights and biases; PCA's and
    Nystroem's ``components_``; a scaler's ``mean_`` and ``scale_``. A
    pipeline sums its steps; it is None when any step's count is unknown or
    meaningless (k-nearest neighbours keep the training set: see
    ``model_bytes``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import numpy as np
    >>> classical_n_params(LogisticRegression().fit(np.eye(4), [0, 1, 0, 1]))
    5
    """
    steps = [s for _, s in est.steps if s is not None and s != "passthrough"] if hasattr(est, "steps") else [est]
    counts = [_step_params(s) for s in steps]
    if any(c is None for c in counts):
        return None
    return int(sum(counts))  # type: ignore[arg-type]


def forward_macs(module: Any, shape: tuple[int, ...] = IMAGE_SHAPE) -> int:
    """Multiply-accumulates of one forward pass of ``module`` on a zero input of ``shape``.

    Counted by ``torch.utils.flop_counter.FlopCounterMode``, which counts the
    matrix products and convolutions (``mm``, ``addmm``, ``bmm``,
    ``convolution``, scaled dot-product attention) at two FLOPs per
    multiply-add; MACs are half its total. Element-wise work (activations,
    pooling, normalization, additions of biases) is not counted, as in the
    multiply-add figures of the lightweight-network papers.

    The pass runs in eval mode with autograd on: with gradients off, torch's
    transformer layers take a fused "fast path" (one kernel per layer) that
    the counter does not see, and a ViT would count its patch embedding only.
    Attention on the CPU runs ``_scaled_dot_product_flash_attention_for_cpu``,
    which the counter's registry lacks: it is counted with torch's own
    formula for the other attention kernels (``sdpa_flop_count``).

    Parameters
    ----------
    module : torch.nn.Module
    shape : tuple of int, default=IMAGE_SHAPE
        One image, ``(1, 1, 28, 28)``.

    Returns
    -------
    int
    """
    import torch
    from torch.utils import flop_counter

    # The CPU attention kernel, counted as torch counts its other attention kernels (where this torch has both).
    cpu_attention = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    formula = getattr(flop_counter, "sdpa_flop_count", None)
    custom = {}
    if cpu_attention is not None and formula is not None:

        def cpu_sdpa(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
            return int(formula(query, key, value))  # the shapes of query, key and value, as torch's sdpa_flop

        custom[cpu_attention] = cpu_sdpa
    param = next(module.parameters(), None)
    device = param.device if param is not None else "cpu"
    was_training = module.training
    module.eval()
    try:
        counter = flop_counter.FlopCounterMode(display=False, custom_mapping=custom)
        with torch.enable_grad(), counter:
            module(torch.zeros(shape, device=device))
    finally:
        module.train(was_training)
    return int(counter.get_total_flops()) // 2
