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
        msg = f"The 'image_shape' parameter of Deskew must be a tuple of two positive ints. Got {image_shape!r} instead."
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


def _shift_rows(
    rows: NDArray[np.float32], whole: NDArray[np.intp], frac: NDArray[np.float32], buf: NDArray[np.float32]
) -> NDArray[np.float32]:
    """``out[i, c] = rows[i, c + whole[i] + frac[i]]``, linearly interpolated, zero outside.

    ``rows`` is (m, L); ``buf`` is a zeroed (>= m, 3 L + 2) work array whose
    middle is overwritten (its margins stay zero, so it can be reused).
    """
    m, L = rows.shape
    pad = L + 1
    padded = buf[:m]
    padded[:, pad : pad + L] = rows
    # Window i starts at column whole[i] + pad and holds the L + 1 samples needed for row i.
    windows = np.lib.stride_tricks.sliding_window_view(padded, L + 1, axis=1)
    sel = windows[np.arange(m), whole + pad]
    left = sel[:, :-1]
    return left + frac[:, None] * (sel[:, 1:] - left)


def deskew_images(X: NDArray[np.float32], image_shape: tuple[int, int], *, recenter: bool = True) -> NDArray[np.float32]:
    """Deskew images given as rows of ``X`` (n_samples, height * width), float32 (see :class:`Deskew`)."""
    H, W = image_shape
    n = X.shape[0]
    m = image_moments(X, image_shape)
    mu_yy = m["mu_yy"]
    # A flat or empty image (mu_yy == 0) is left unsheared.
    alpha = np.divide(m["mu_xy"], mu_yy, out=np.zeros_like(mu_yy), where=mu_yy > 1e-12)
    has_mass = m["mass"] > 0
    dx = np.where(has_mass & recenter, m["cx"] - W / 2.0, 0.0)
    dy = np.where(has_mass & recenter, m["cy"] - H / 2.0, 0.0)
    # Shear (and horizontal translation): T[y, x] = I[y, x + alpha * (y - cy) + dx], one shift per row.
    ys = np.arange(H, dtype=np.float64)
    h_whole, h_frac = _split_shift(alpha[:, None] * (ys[None, :] - m["cy"][:, None]) + dx[:, None], W)
    h_whole, h_frac = h_whole.ravel(), h_frac.ravel()
    # Vertical translation: O[y, x] = T[y + dy, x], one shift per image.
    v_whole, v_frac = _split_shift(dy, H)
    v_pad = H + 1
    h_buf = np.zeros((_CHUNK * H, 3 * W + 2), dtype=np.float32)
    v_buf = np.zeros((_CHUNK, 3 * H + 2, W), dtype=np.float32)
    out = np.empty((n, H * W), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        r0, r1 = start * H, stop * H
        sheared = _shift_rows(X[start:stop].reshape(-1, W), h_whole[r0:r1], h_frac[r0:r1], h_buf)
        if not recenter:
            out[start:stop] = sheared.reshape(-1, H * W)
            continue
        k = stop - start
        padded = v_buf[:k]
        padded[:, v_pad : v_pad + H] = sheared.reshape(k, H, W)
        rows = (v_whole[start:stop] + v_pad)[:, None] + np.arange(H + 1)
        sel = padded[np.arange(k)[:, None], rows]  # (k, H + 1, W)
        top = sel[:, :-1]
        moved = top + v_frac[start:stop, None, None] * (sel[:, 1:] - top)
        out[start:stop] = moved.reshape(k, H * W)
    return out


class Deskew(TransformerMixin, BaseEstimator):  # type: ignore[misc]
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

    def _validate_X(self, X: ArrayLike, *, reset: bool) -> NDArray[np.float32]:
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
        self._validate_X(X, reset=True)
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
        X_arr = self._validate_X(X, reset=False)
        return deskew_images(X_arr, _check_image_shape(self.image_shape), recenter=bool(self.recenter))
