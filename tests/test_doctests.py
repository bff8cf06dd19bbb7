"""The runnable examples in the docstrings of convcore and the live class stay true."""

import doctest
import importlib

import pytest

MODULES = ["convcore.params", "convcore.core", "convcore.geometry", "convcore.text",
           "convcore.trace", "convcore.trace.cost", "convcore.trace.padding",
           "convcore.trace.shape", "convcore.trace.steps", "convcore.trace.windows",
           "convcore.algorithms", "convcore.budget", "convcore.transposed",
           "convcore.transposed_trace", "convcore.receptive", "convcore.padding_modes",
           "app.live.codes", "app.live.messages", "app.live.classroom"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0
