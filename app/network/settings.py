"""What the network page shows (:class:`NetworkSettings`) and its shareable URL.

Pure, no Streamlit.  ``?seed=7&image=17`` is test image 17 on the network trained from seed
7; without ``seed`` the shipped weights; ``draw=`` holds a drawn digit (64 characters, see
:func:`app.network.data.encode_drawing`).  :func:`from_query` never raises: what it cannot
read is reported and the default kept; a number it can read but that breaks a bound is
clamped by the page's controls, which say so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.network.data import check_drawing

TRUE_WORDS = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class NetworkSettings:
    seed: int | None = None  # None: the shipped weights
    image: int = 0  # index in the test split
    draw: str = ""  # a drawn digit instead of the test image
    presenter: bool = False


def to_query(s: NetworkSettings) -> dict[str, str]:
    q: dict[str, str] = {}
    if s.seed is not None:
        q["seed"] = str(s.seed)
    if s.image:
        q["image"] = str(s.image)
    if s.draw:
        q["draw"] = s.draw
    if s.presenter:
        q["presenter"] = "1"
    return q


def from_query(query) -> tuple[NetworkSettings, list[str]]:
    """Settings from query parameters, and what was ignored (one sentence each)."""
    parsers = {"seed": int, "image": int, "draw": check_drawing,
               "presenter": lambda t: str(t).lower() in TRUE_WORDS}
    changes, problems = {}, []
    for key, parse in parsers.items():
        if key not in query:
            continue
        text = query[key]
        try:
            changes[key] = parse(text)
        except (ValueError, TypeError, OverflowError) as e:
            problems.append(f"ignored {key}={str(text)[:80]!r}: {e}")
    return replace(NetworkSettings(), **changes), problems
