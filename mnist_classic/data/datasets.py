"""The dataset registry: every MNIST-format dataset the suite knows by name.

Adding a dataset is one call to :func:`register_dataset` (or one entry below):
its files, where to fetch them and the SHA-256 of their payloads. Everything
else (the loader, ``mnist-classic list datasets``, ``data download``) follows.

Checksums that must hold across mirrors are taken over the DECOMPRESSED IDX
payload, since mirrors and repackagers (Debian, for one) recompress the .gz
files; the .gz checksums are checked too when a file is downloaded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from .._origin import current_origin

__all__ = [
    "DATASETS",
    "ROLES",
    "ArchiveSpec",
    "DatasetSpec",
    "FileSpec",
    "digit_names",
    "get_dataset_spec",
    "register_dataset",
]

#: The four files of an MNIST-format dataset, in canonical order.
ROLES: tuple[str, ...] = ("train_images", "train_labels", "test_images", "test_labels")

#: Canonical file names (without .gz) of each role.
_STEMS: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a dataset.

    Parameters
    ----------
    role : str
        One of :data:`ROLES`.
    filename : str
        Name of the file as served (usually ``<stem>.gz``).
    payload_sha256 : str or None, default=None
        SHA-256 of the decompressed IDX payload; ``None`` when not published
        (it is then pinned on the first verified download).
    download_sha256 : str or None, default=None
        SHA-256 of the file as the mirrors serve it.
    download_size : int or None, default=None
        Size in bytes of the file as served.
    member : str or None, default=None
        For datasets shipped in an archive: the member's base name.
    """

    role: str
    filename: str
    payload_sha256: str | None = None
    download_sha256: str | None = None
    download_size: int | None = None
    member: str | None = None


@dataclass(frozen=True)
class ArchiveSpec:
    """A single archive (zip) that holds a dataset's files as members."""

    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DatasetSpec:
    """A named MNIST-format dataset.

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"fashion-mnist"``.
    description : str
        One line for ``mnist-classic list datasets``.
    license : str
        License and attribution, one line.
    files : tuple of FileSpec
        The four files, one per role in :data:`ROLES`.
    mirrors : tuple of str, default=()
        Base URLs, tried in order; a file's URL is base + filename.
    bundled : bool, default=False
        Shipped inside the package (``mnist_classic/_data/<name>/``).
    archive : ArchiveSpec or None, default=None
        When set, the mirrors serve this archive and ``files`` are members.
    transpose : bool, default=False
        Images are stored transposed relative to MNIST (EMNIST).
    n_classes : int, default=10
        Labels must lie in ``[0, n_classes)``.
    class_names : tuple of str, default=()
        The name of each class, label 0 first (``"T-shirt/top"``, ...);
        empty means the labels themselves, ``"0"`` to ``str(n_classes - 1)``.
    """

    name: str
    description: str
    license: str
    files: tuple[FileSpec, ...]
    mirrors: tuple[str, ...] = ()
    bundled: bool = False
    archive: ArchiveSpec | None = None
    transpose: bool = False
    n_classes: int = 10
    class_names: tuple[str, ...] = ()
    _by_role: dict[str, FileSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_role = {f.role: f for f in self.files}
        if sorted(by_role) != sorted(ROLES) or len(self.files) != len(ROLES):
            msg = f"Dataset {self.name!r} must define exactly one file per role {ROLES}."
            raise ValueError(msg)
        if not self.class_names:
            object.__setattr__(self, "class_names", digit_names(self.n_classes))
        elif len(self.class_names) != self.n_classes:
            msg = (
                f"The 'class_names' parameter of DatasetSpec {self.name!r} must hold n_classes={self.n_classes} "
                f"names. Got {len(self.class_names)} instead."
            )
            raise ValueError(msg)
        object.__setattr__(self, "_by_role", by_role)

    def file(self, role: str) -> FileSpec:
        """Return the file of ``role``."""
        return self._by_role[role]

    @property
    def pinned(self) -> dict[str, str]:
        """Role -> payload SHA-256, for the files whose hash is published."""
        return {f.role: f.payload_sha256 for f in self.files if f.payload_sha256}


def digit_names(n_classes: int = 10) -> tuple[str, ...]:
    """The labels as names: ``("0", "1", ..., str(n_classes - 1))``.

    Examples
    --------
    >>> digit_names(3)
    ('0', '1', '2')
    """
    return tuple(str(i) for i in range(n_classes))


def _mnist_layout(
    payload: dict[str, str] | None = None,
    served: dict[str, tuple[str, int]] | None = None,
    *,
    members: str | None = None,
) -> tuple[FileSpec, ...]:
    """The four canonically named files, with their hashes by role.

    ``members``, when given, is the archive members' prefix (EMNIST names its
    files ``emnist-<split>-{train,test}-...``).
    """
    payload = payload or {}
    served = served or {}
    files = []
    for role in ROLES:
        sha, size = served.get(role, (None, None))
        stem = _STEMS[role]
        if members is not None:
            stem = members + stem.replace("t10k", "test")
        files.append(
            FileSpec(
                role=role,
                filename=f"{stem}.gz",
                payload_sha256=payload.get(role),
                download_sha256=sha,
                download_size=size,
                member=f"{stem}.gz" if members is not None else None,
            )
        )
    return tuple(files)


#: The registry: name -> spec. Use :func:`register_dataset` to add one.
DATASETS: dict[str, DatasetSpec] = {}


#: Where each registered dataset comes from ("built-in", "plugin: ...", "entry point: ..."); see ``mnist-classic list``.
DATASET_ORIGINS: dict[str, str] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to :data:`DATASETS` (replacing one of the same name).

    Parameters
    ----------
    spec : DatasetSpec

    Returns
    -------
    DatasetSpec
        ``spec``, so that the call can be used as an expression.
    """
    DATASETS[spec.name] = spec
    DATASET_ORIGINS[spec.name] = current_origin(sys._getframe(1).f_globals.get("__name__", ""))
    return spec


def get_dataset_spec(name: str) -> DatasetSpec:
    """Return the registered dataset ``name``.

    Raises
    ------
    ValueError
        If no dataset of that name is registered; the message lists them.
    """
    try:
        return DATASETS[name]
    except KeyError:
        accepted = ", ".join(sorted(DATASETS))
        msg = f"Unknown dataset {name!r}: accepted names are {accepted}, or a directory holding the four IDX files."
        raise ValueError(msg) from None


register_dataset(
    DatasetSpec(
        name="mnist",
        description="MNIST handwritten digits, 60k/10k, 28x28 (bundled, offline)",
        license="CC BY-SA 3.0; Y. LeCun, C. Cortes, C. J. C. Burges, 1998",
        files=_mnist_layout(
            payload={
                "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            },
            served={
                "train_images": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
                "train_labels": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
                "test_images": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
                "test_labels": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
            },
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        bundled=True,
    )
)

register_dataset(
    DatasetSpec(
        name="fashion-mnist",
        description="Fashion-MNIST (Zalando), 10 clothing classes, 60k/10k, 28x28",
        license="MIT; H. Xiao, K. Rasul, R. Vollgraf, 2017",
        files=_mnist_layout(
            payload={
                "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            },
            served={
                "train_images": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
                "train_labels": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
                "test_images": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
                "test_labels": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
            },
        ),
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    )
)

register_dataset(
    DatasetSpec(
        name="kmnist",
        description="Kuzushiji-MNIST, 10 classes of cursive Japanese, 60k/10k, 28x28",
        license="CC BY-SA 4.0; T. Clanuwat et al., 2018 (ROIS-DS CODH)",
        files=_mnist_layout(
            served={
                "train_images": ("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4", 18165135),
                "train_labels": ("e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17", 29497),
                "test_images": ("edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5", 3041136),
                "test_labels": ("20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c", 5120),
            },
        ),
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        # The ten hiragana お き す つ な は ま や れ を, romanized (Hepburn) so that any font can draw them.
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    )
)

register_dataset(
    DatasetSpec(
        name="emnist-digits",
        description="EMNIST digits (NIST), 240k/40k, 28x28; from the 562 MB EMNIST archive",
        license="NIST public data; G. Cohen et al., 2017",
        files=_mnist_layout(members="emnist-digits-"),
        mirrors=("https://biometrics.nist.gov/cs_links/EMNIST/",),
        archive=ArchiveSpec(
            filename="gzip.zip",
            sha256="fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e",
            size=561753746,
        ),
        transpose=True,
    )
)
