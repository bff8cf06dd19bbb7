"""The README's Python examples run as written, and its two commands are the ones CI uses."""

import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_python_examples_run():
    blocks = python_blocks()
    assert len(blocks) >= 2
    scope: dict = {}
    for block in blocks:  # later blocks use names from earlier ones, as a reader would
        exec(compile(block, "README.md", "exec"), scope)  # our own README, not user input
    # the values the README states in its comments
    assert scope["cc"].output_size(10, 2, stride=2, padding=2) == 7
    assert scope["cc"].output_shape((1, 16, 10), (32, 4, 2), groups=4) == (1, 32, 9)
    assert scope["cc"].equation(scope["step"]) == (
        "out[0,1,3] = b(0) + x[0,6]·w[1,0,0] (6·0) + x[0,7]·w[1,0,1] (7·−1) = −7")
    assert scope["back"].shape == (1, 1, 10) and scope["rf"].size == (16,)
    np.testing.assert_array_equal(scope["grad"], scope["back"])
    np.testing.assert_array_equal(scope["conv"].data,
                                  [[[0, 1, 5, 9, 13, 17, 0], [0, -1, -3, -5, -7, -9, 0]]])


def test_readme_commands_are_marked_for_ci():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci
    for marker, start in (("<!-- app-command -->", "python3 -m venv .venv && "),
                          ("<!-- test-command -->", "python3 -m venv .venv && ")):
        after = README.split(marker, 1)[1].splitlines()
        assert after[1] == "```bash" and after[2].startswith(start), after[:3]
    assert "requirements-dev.txt" in README.split("<!-- test-command -->", 1)[1].splitlines()[2]
    assert "streamlit run app/streamlit_app.py" in README.split("<!-- app-command -->", 1)[1]
