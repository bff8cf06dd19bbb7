"""convcore: N-d cross-correlation with every parameter of the documented layers.

Runs on CuPy when a working CUDA device is there and on NumPy otherwise, with one code path.
"""

from . import gpuarray
from .algorithms import check_budget, choose_algorithm, estimate_memory
from .backend import available_backends, backend_name, to_numpy
from .budget import MemoryEstimate, format_bytes, memory_budget
from .core import conv1d, conv2d, conv3d, convnd
from .errors import ConvError
from .modules import FAN_MODES, INIT_SCHEMES
from .padding_modes import PADDING_MODES
from .params import (
    max_dilation,
    max_kernel_size,
    max_padding,
    output_shape,
    output_size,
    tf_same_pads,
    valid_groups,
)
from .receptive import (
    CellField,
    LayerField,
    ReceptiveField,
    StackLayer,
    cell_receptive_field,
    receptive_field,
    stack_shapes,
)
from .text import format_index, format_list, format_number, format_span
from .trace import (
    Coverage,
    GroupMap,
    PaddedInput,
    ShapeExplanation,
    Step,
    Tap,
    WindowMap,
    coverage,
    dilated_kernel,
    equation,
    explain_shape,
    from_megengine,
    from_puzzlelib_1d,
    group_map,
    multiply_adds,
    padded_input,
    to_megengine,
    to_puzzlelib_1d,
    trace_step,
    window_map,
)
from .transposed import (
    colliding_input_sizes,
    conv_grad_input,
    conv_grad_weight,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    conv_transposend,
    max_transpose_padding,
    transpose_output_shape,
    transpose_output_size,
)
from .transposed_trace import (
    GatherForm,
    Overlap,
    ScatterMap,
    ScatterStep,
    Stamp,
    TransposedStep,
    gather_form,
    gather_form_shape,
    overlap_counts,
    scatter_map,
    trace_scatter,
    trace_transposed,
    transposed_equation,
)
from .variable import Variable

__all__ = [
    "FAN_MODES",
    "INIT_SCHEMES",
    "PADDING_MODES",
    "ConvError",
    "Coverage",
    "GroupMap",
    "MemoryEstimate",
    "PaddedInput",
    "ShapeExplanation",
    "Step",
    "Tap",
    "Variable",
    "WindowMap",
    "available_backends",
    "backend_name",
    "check_budget",
    "choose_algorithm",
    "conv1d",
    "conv2d",
    "conv3d",
    "convnd",
    "coverage",
    "dilated_kernel",
    "equation",
    "estimate_memory",
    "explain_shape",
    "format_bytes",
    "format_index",
    "format_list",
    "format_number",
    "format_span",
    "from_megengine",
    "from_puzzlelib_1d",
    "gpuarray",
    "group_map",
    "max_dilation",
    "max_kernel_size",
    "max_padding",
    "memory_budget",
    "multiply_adds",
    "output_shape",
    "output_size",
    "padded_input",
    "tf_same_pads",
    "to_megengine",
    "to_numpy",
    "to_puzzlelib_1d",
    "trace_step",
    "valid_groups",
    "window_map",
]
__all__ += [
    "CellField", "GatherForm", "LayerField", "Overlap", "ReceptiveField", "ScatterMap",
    "ScatterStep", "StackLayer", "Stamp", "TransposedStep", "cell_receptive_field",
    "colliding_input_sizes", "conv_grad_input", "conv_grad_weight", "conv_transpose1d",
    "conv_transpose2d", "conv_transpose3d", "conv_transposend", "gather_form", "gather_form_shape",
    "max_transpose_padding", "overlap_counts", "receptive_field", "scatter_map", "stack_shapes",
    "trace_scatter", "trace_transposed", "transpose_output_shape", "transpose_output_size",
    "transposed_equation",
]
__version__ = "0.1.0"
