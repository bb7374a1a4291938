"""anodiff: anomalous-diffusion statistics of SGD, from Python.

Submodules: `anodiff.stats` (alpha-stable laws and fits, Vuong, Hill), `anodiff.diffusion`
(MSD, trajectories, analyses), `anodiff.linalg` (Lanczos, SLQ, trace estimates),
`anodiff.torch` (Hessian spectra and recording for PyTorch; needs torch), `anodiff.fractal`,
`anodiff.landscape`; `anodiff.dask` (the trajectory analyses on a Dask cluster, over Zarr
groups, stores or dask arrays; import it explicitly, it needs dask, zarr and pandas). All computation runs in compiled Rust (anodiff-core) with the GIL released.
"""

from . import _core as _core
from . import diffusion, fractal, landscape, linalg, stats
from ._core import ConvergenceError, FitError

__version__ = "0.1.0"
__all__ = [
    "ConvergenceError",
    "FitError",
    "__version__",
    "diffusion",
    "fractal",
    "landscape",
    "linalg",
    "stats",
]
