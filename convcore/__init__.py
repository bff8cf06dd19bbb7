"""convcore: N-d cross-correlation with every parameter of the documented layers.

Runs on CuPy when a working CUDA device is there and on NumPy otherwise, with one code path.
"""

from . import gpuarray
from .backend import available_backends, backend_name, to_numpy
from .core import conv1d, conv2d, conv3d, convnd
from .errors import ConvError
from .params import output_shape, output_size
from .variable import Variable

__all__ = [
    "ConvError", "Variable", "available_backends", "backend_name", "conv1d", "conv2d", "conv3d",
    "convnd", "gpuarray", "output_shape", "output_size", "to_numpy",
]
__version__ = "0.1.0"
