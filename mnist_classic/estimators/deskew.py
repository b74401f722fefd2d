"""Deskewing of digit images by their second-order moments (LeCun et al., 1998).

Each image is sheared horizontally so that its principal axis becomes vertical,
then (by default) translated so that its intensity-weighted centroid lands on
the centre of the field, as in the common reference implementation. The whole
batch is processed with array operations (no loop over images): the moments
are matrix products, the shear and the translation are two 1-D linear
interpolations done as gathers over chunks of images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array

__all__ = ["Deskew", "deskew_images", "image_moments"]

# Images per chunk of the interpolation: small enough that a chunk's temporaries
# stay in cache (and are reused by the allocator), large enough that the Python
# overhead per chunk is negligible.
_CHUNK = 256


def _check_image_shape(image_shape: Any) -> tuple[int, int]:
    ok = (
        isinstance(image_shape, tuple | list)
        and len(image_shape) == 2
        and all(isinstance(d, int | np.integer) and not isinstance(d, bool) and d > 0 for d in image_shape)
    )
    if not ok:
        msg = (
            f"The 'image_shape' parameter of Deskew must be a tuple of two positive ints. Got {image_shape!r} instead."
        )
        raise ValueError(msg)
    return int(image_shape[0]), int(image_shape[1])


def image_moments(X: NDArray[np.float32], image_shape: tuple[int, int]) -> dict[str, NDArray[np.float64]]:
    """Mass, centroid and second-order central moments of each image.

    Parameters
    ----------
    X : ndarray of shape (n_samples, height * width)
        Images, one per row in row-major order; intensities are the weights.
    image_shape : tuple of (int, int)
        ``(height, width)``.

    Returns
    -------
    moments : dict of str to ndarray of shape (n_samples,)
        ``mass``, the centroid ``cy`` (row) and ``cx`` (column), and the central
        moments ``mu_yy`` and ``mu_xy``. Pixel centres are at integer
        coordinates. An image of zero mass gets zeros.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((5, 5), dtype=np.float32)
    >>> img[1, 1] = img[3, 3] = 1.0  # two dots on the diagonal
    >>> m = image_moments(img.reshape(1, -1), (5, 5))
    >>> float(m["cy"][0]), float(m["cx"][0]), float(m["mu_yy"][0]), float(m["mu_xy"][0])
    (2.0, 2.0, 1.0, 1.0)
    """
    H, W = image_shape
    # One matrix product gives every image's raw moments of order 0, 1 and 2 about the
    # image centre (small coordinates: little cancellation when centring in float64).
    yy, xx = np.mgrid[:H, :W]
    yc = (yy - H / 2.0).ravel()
    xc = (xx - W / 2.0).ravel()
    basis = np.stack([np.ones(H * W), yc, xc, yc * yc, yc * xc], axis=1).astype(np.float32)
    raw = (X @ basis).astype(np.float64)
    mass = raw[:, 0]
    safe = np.where(mass > 0, mass, 1.0)
    ey, ex = raw[:, 1] / safe, raw[:, 2] / safe
    cy = np.where(mass > 0, ey + H / 2.0, 0.0)
    cx = np.where(mass > 0, ex + W / 2.0, 0.0)
    mu_yy = raw[:, 3] / safe - ey * ey
    mu_xy = raw[:, 4] / safe - ey * ex
    return {"mass": mass, "cy": cy, "cx": cx, "mu_yy": mu_yy, "mu_xy": mu_xy}


def _split_shift(shift: NDArray[np.float64], limit: int) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """Integer part and fraction of each shift, clipped to [-limit, limit] (beyond it all is zero)."""
    shift = np.clip(shift, -limit, limit)
    whole = np.floor(shift)
    return whole.astype(np.intp), (shift - whole).astype(np.float32)


def deskew_images(
    X: NDArray[np.float32], image_shape: tuple[int, int], *, recenter: bool = True
) -> NDArray[np.float32]:
    """Deskew images given as rows of ``X`` (n_samples, height * width), float32 (see :class:`Deskew`).

    Output row ``r`` of an image moved down by ``dy = ky + g`` (``ky`` whole,
    ``0 <= g < 1``) blends the sheared source rows ``s = r + ky`` and ``s + 1``;
    a sheared source row is ``T[s, x] = I[s, x + alpha * (s - cy) + dx]``,
    linearly interpolated along the row. Both steps are gathers of short
    windows from a zero-padded copy of a chunk of images, then array arithmetic.
    """
    H, W = image_shape
    n = X.shape[0]
    m = image_moments(X, image_shape)
    mu_yy = m["mu_yy"]
    # A flat or empty image (mu_yy == 0) is left unsheared.
    alpha = np.divide(m["mu_xy"], mu_yy, out=np.zeros_like(mu_yy), where=mu_yy > 1e-12)
    has_mass = m["mass"] > 0
    dx = np.where(has_mass & recenter, m["cx"] - W / 2.0, 0.0)
    dy = np.where(has_mass & recenter, m["cy"] - H / 2.0, 0.0)
    v_whole, v_frac = _split_shift(dy, H)
    # Source rows needed by each image: H + 1 when blending vertically, else the H rows themselves.
    n_src = H + 1 if recenter else H
    src = v_whole[:, None] + np.arange(n_src)  # (n, n_src)
    h_whole, h_frac = _split_shift(alpha[:, None] * (src - m["cy"][:, None]) + dx[:, None], W)
    inside = (src >= 0) & (src < H)
    pad = W + 1
    # Rows of a chunk, zero-padded by W + 1 columns each side, then one all-zero row
    # that source rows outside the image point to. Margins are never written: reusable.
    buf = np.zeros((_CHUNK * H + 1, W + 2 * pad), dtype=np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(buf, W + 1, axis=1)  # (rows, starts, W + 1)
    out = np.empty((n, H * W), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        k = stop - start
        blank = k * H
        buf[:blank, pad : pad + W] = X[start:stop].reshape(blank, W)
        buf[blank, pad : pad + W] = 0.0
        rows = np.where(inside[start:stop], np.arange(k)[:, None] * H + src[start:stop], blank)
        sel = windows[rows, h_whole[start:stop] + pad]  # (k, n_src, W + 1)
        left = sel[..., :-1]
        sheared = np.subtract(sel[..., 1:], left)
        sheared *= h_frac[start:stop, :, None]
        sheared += left
        if recenter:
            top = sheared[:, :-1]
            moved = np.subtract(sheared[:, 1:], top)
            moved *= v_frac[start:stop, None, None]
            moved += top
            sheared = moved
        out[start:stop] = sheared.reshape(k, H * W)
    return out


class Deskew(TransformerMixin, BaseEstimator):
    """Shear each digit image so that its principal axis is vertical.

    LeCun's deskewing (LeCun et al., 1998): for each image, with intensities as
    weights, compute the centroid ``(cy, cx)`` and the central moments
    ``mu_yy`` and ``mu_xy`` (rows are y, pointing down; columns are x), set
    ``alpha = mu_xy / mu_yy`` and shear horizontally about the centroid row::

        out[y, x] = in[y, x + alpha * (y - cy)]

    i.e. the pixel at ``(y, x)`` moves to ``x' = x - alpha * (y - cy)``, which
    makes the mixed moment of the result zero. With ``recenter=True`` the
    result is also translated so that its centroid lands on
    ``(H / 2, W / 2)``, as in the widely used reference implementation
    (``scipy.ndimage.affine_transform`` with ``offset = centroid - A @ shape / 2``);
    that is where MNIST's own preprocessing put the centroid (mean (14.0, 14.0)
    on the training set), so on MNIST it moves images by a fraction of a pixel.
    Samples between pixels are linearly interpolated (the shear along rows,
    then the translation along columns); samples outside the image are 0. An
    image with no mass, or with ``mu_yy == 0``, is not sheared.

    The transformer is stateless: ``fit`` only validates its input.

    Parameters
    ----------
    image_shape : tuple of (int, int), default=(28, 28)
        Height and width of each image; ``X`` must have ``height * width``
        columns, each row an image in row-major (C) order.
    recenter : bool, default=True
        Also translate each deskewed image so that its centroid is at
        ``(height / 2, width / 2)``.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in ``fit``, ``height * width``.

    See Also
    --------
    sklearn.preprocessing.FunctionTransformer : for other per-image transforms.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning applied
    to document recognition", Proc. IEEE 86(11), 1998.

    Examples
    --------
    A slanted stroke (a line leaning right as it goes down) comes out vertical:

    >>> import numpy as np
    >>> img = np.zeros((28, 28), dtype=np.float32)
    >>> for y in range(6, 22):
    ...     img[y, 8 + (y - 6) // 2] = 1.0
    >>> out = Deskew().fit_transform(img.reshape(1, -1)).reshape(28, 28)
    >>> out.dtype, out.shape
    (dtype('float32'), (28, 28))
    >>> cols = (out * np.arange(28)).sum(axis=1)[6:22] / out.sum(axis=1)[6:22]
    >>> bool(np.ptp(cols) < 1.0)  # every row's mass sits in the same column
    True
    """

    def __init__(self, image_shape: tuple[int, int] = (28, 28), recenter: bool = True) -> None:
        self.image_shape = image_shape
        self.recenter = recenter

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.positive_only = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _validate_input(self, X: ArrayLike, *, reset: bool) -> NDArray[np.float32]:
        H, W = _check_image_shape(self.image_shape)
        X_arr: NDArray[np.float32] = check_array(X, dtype=np.float32, order="C", estimator=self)
        if X_arr.shape[1] != H * W:
            msg = (
                f"X has {X_arr.shape[1]} features, but Deskew is expecting {H * W} features as input: "
                f"with the 'image_shape' parameter {(H, W)!r}, X must have shape (n_samples, {H * W}). "
                f"Got shape {X_arr.shape!r} instead."
            )
            raise ValueError(msg)
        lowest = float(X_arr.min(initial=0.0))
        if lowest < 0:
            msg = (
                "X passed to Deskew must hold non-negative pixel intensities (they weight the moments). "
                f"Got a minimum of {lowest!r} instead."
            )
            raise ValueError(msg)
        if reset:
            self.n_features_in_ = H * W
        return X_arr

    def fit(self, X: ArrayLike, y: Any = None) -> Deskew:
        """Validate ``X`` against ``image_shape``; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Images, one per row.
        y : None
            Ignored.

        Returns
        -------
        self : Deskew

        Raises
        ------
        ValueError
            If ``image_shape`` is not two positive ints, or ``X`` does not have
            ``height * width`` columns, or has negative values.
        """
        self._validate_input(X, reset=True)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float32]:
        """Deskew every image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
            Images, one per row, non-negative intensities.

        Returns
        -------
        X_new : ndarray of shape (n_samples, height * width), dtype float32
            The deskewed images, flattened the same way.

        Raises
        ------
        ValueError
            As in :meth:`fit`.
        """
        X_arr = self._validate_input(X, reset=False)
        return deskew_images(X_arr, _check_image_shape(self.image_shape), recenter=bool(self.recenter))
