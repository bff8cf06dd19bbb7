"""Reading a page's browser view out of an AppTest run: the component's payload (its scene and
anchor) as the page sent it, and the arrays inside the scene; plus the two checks every AppTest
module makes (no exception, the URL's query)."""

from __future__ import annotations

import json

import numpy as np

from app.shared.scene import output_map, read_typed_array

COMPONENT = "convcore_explorer"


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def query(at) -> dict:
    """The page's URL query as one value per key."""
    return {k: (v[0] if isinstance(v, list) else v) for k, v in
            ((k, at.query_params[k]) for k in at.query_params)}


def view_element(at, component: str = COMPONENT):
    """The element proto of the view ``component`` (the explorer's by default) in the main
    area, or None."""
    for e in at.main:
        proto = getattr(e, "proto", None)
        if getattr(proto, "component_name", None) == component:
            return proto
    return None


def payload(at, component: str = COMPONENT) -> dict:
    proto = view_element(at, component)
    assert proto is not None, f"no {component} view: " + "; ".join(e.value for e in at.error)
    data = json.loads(proto.json)
    return json.loads(data) if isinstance(data, str) else data


def scene(at) -> dict:
    return payload(at)["scene"]


def array(at, name: str) -> np.ndarray:
    """``inputs``, ``weights``, ``output`` (the shown map), ``outputs`` or ``bias`` of the
    shown scene."""
    if name == "output":
        return output_map(scene(at))
    return read_typed_array(scene(at)[name])


def report(at, ndim: int, seq: int, **view) -> None:
    """What the browser sends when the user stops (step, speed, reveal) for the shown scene."""
    p = payload(at)
    state = {"scene": p["scene_id"], "seq": seq, **p["init"], **view}
    at.session_state[f"e{ndim}.view"] = {"view": state}
