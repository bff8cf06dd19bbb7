"""Shared fixtures: the array backend ``xp`` and the hypothesis profiles."""

import os

import pytest
from hypothesis import HealthCheck, settings

import convcore as cc
from convcore.backend import cupy_unavailable_reason, xp_by_name

# "ci" (default): the same cases every run, nothing written to disk.  HYPOTHESIS_PROFILE=dev
# explores new cases on each run.
settings.register_profile(
    "ci", deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=["numpy", "cupy"])
def xp(request):
    """The array module of each backend that can run here; CuPy cases skip without a GPU."""
    if request.param not in cc.available_backends():
        pytest.skip(f"CuPy cannot run here: {cupy_unavailable_reason()}")
    return xp_by_name(request.param)
