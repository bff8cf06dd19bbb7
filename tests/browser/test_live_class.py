"""A live class in real browsers: one teacher and three students, each in a Chromium context of
their own (no shared cookies or storage), against one ``streamlit run`` of the app, and
against deploy/serve.py (nginx, two replicas and Redis) with the teacher on one replica and the
students on the other.

What the students' pages show is read from each page (the view's step, taps, equation and
scene) and compared with the core's computation of the teacher's layer; the teacher's
histogram is read from the teacher's page and compared with what the students typed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

import numpy as np
import pytest
from page_errors import fail_on_component_errors
from test_browser import COUNT_WS_SENDS, open_view, shot, view, wait_until_idle

import convcore as cc
from app.shared import model, url

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'
FOLLOW_MS = 5_000  # the issue asks for 1 s; a loaded 2-core machine gets some slack
CODE = re.compile(r"Class ([A-Z2-9]{3}-[A-Z2-9]{3}-[A-Z2-9]{3})")


def dataset(page, key: str) -> str:
    return page.evaluate(f"() => document.querySelector('{ROOT_SEL}').dataset.{key} || ''")


def wait_dataset(page, key: str, value: str, timeout: int = FOLLOW_MS) -> None:
    page.wait_for_function(
        f"() => (document.querySelector('{ROOT_SEL}') || {{dataset: {{}}}}).dataset.{key}"
        f" === {json.dumps(value)}", timeout=timeout)


def shown(page) -> dict:
    """What a page's view shows: its layer (query), step, taps and equation."""
    return page.evaluate(f"""() => {{
      const r = document.querySelector('{ROOT_SEL}');
      return {{query: r.__cx.payload.query, step: Number(r.dataset.step),
               taps: JSON.parse(r.dataset.taps), eq: r.querySelector('.cx-eq').innerText,
               out_shape: r.__cx.scene.out_shape, stride: r.__cx.scene.stride}};
    }}""")


def shown_core(query: dict, ndim: int = 2):
    """The settings of ``query`` (on a page of rank ``ndim``) and the core's computation."""
    s, problems = url.from_query(query, ndim)
    assert not problems, problems
    return s, model.compute(s)


def core_view(query: dict, step: int, ndim: int = 2) -> dict:
    """The same, as the core computes it for the layer of ``query``."""
    s, comp = shown_core(query, ndim)
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    cell = np.unravel_index(step, comp.out_spatial)
    eq = cc.equation(cc.trace_step(comp.x, comp.weight, comp.bias,
                                   out_index=(s.item, s.omap, *map(int, cell)),
                                   **s.conv_kwargs()))
    return {"taps": wmap.coords[step].tolist(), "eq": eq, "out_shape": list(wmap.out_spatial),
            "value": float(comp.out[s.item, s.omap][cell])}


def assert_students_show(teacher, students, step: int) -> dict:
    """Every student's view shows the teacher's layer at ``step``, as the core computes it."""
    wait_dataset(teacher, "step", str(step))
    mine = shown(teacher)
    want = core_view(mine["query"], step)
    assert {k: mine[k] for k in ("taps", "eq", "out_shape")} == {
        k: want[k] for k in ("taps", "eq", "out_shape")}
    stride = json.dumps(json.dumps(mine["stride"], separators=(",", ":")))  # as JS writes it
    for s in students:
        wait_dataset(s, "step", str(step))
        s.wait_for_function(f"() => JSON.stringify(document.querySelector('{ROOT_SEL}')"
                            f".__cx.scene.stride) === {stride}", timeout=FOLLOW_MS)
        theirs = shown(s)
        assert theirs["query"] == mine["query"]
        assert {k: theirs[k] for k in ("taps", "eq", "out_shape")} == {
            k: want[k] for k in ("taps", "eq", "out_shape")}
    return want


def slide(page, testid: str, key: str = "ArrowRight") -> None:
    before = view(page, "v.loads")
    page.locator(f'[data-testid="{testid}"]').press(key)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').__cx.loads > {before}",
                           timeout=20_000)


def new_tab(browser, replica: tuple[str, str] | None = None):
    """A tab of its own context; ``replica``: (the deployment's URL, the replica its sticky
    cookie names)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    if replica:
        from deploy import serve

        context.add_cookies([{"name": serve.COOKIE, "value": replica[1], "url": replica[0]}])
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    return tab


@pytest.fixture
def tabs(browser, request):
    made = []

    def make(replica=None):
        made.append(new_tab(browser, replica))
        return made[-1]
    try:
        yield make
        fail_on_component_errors(made, request)
    finally:
        for tab in made:
            tab.context.close()


def start_class(teacher, app_url: str) -> str:
    open_view(teacher, app_url + "/explorer_2d?shape=7,6")
    teacher.get_by_role("button", name="Start a class").click()
    wait_dataset(teacher, "classStatus", "live", 30_000)
    wait_until_idle(teacher)
    status = teacher.inner_text('[data-testid="cx-class-status"]')
    assert "you drive it" in status
    code = CODE.search(status).group(1)
    sidebar = teacher.locator('[data-testid="stSidebar"]')
    link = sidebar.locator("code").filter(has_text=f"?class={code}").first.inner_text()
    assert link.endswith(f"/explorer_2d?class={code}")
    assert sidebar.get_by_role("img").count() >= 1  # the QR code (segno's SVG)
    assert "token" not in teacher.url  # the teacher's token never sits in the address bar
    return code


def join(student, app_url: str, code: str) -> None:
    open_view(student, f"{app_url}/explorer_2d?class={code}")
    wait_dataset(student, "classStatus", "live", 30_000)
    wait_dataset(student, "classRole", "student")
    student.wait_for_function("() => document.querySelector('[data-testid=\"cx-class-status\"]')"
                              ".innerText.includes('following the teacher')", timeout=FOLLOW_MS)


def test_three_students_follow_the_teacher_and_predict_into_the_histogram(tabs, app_url,
                                                                         artifacts):
    teacher = tabs()
    code = start_class(teacher, app_url)
    students = [tabs() for _ in range(3)]
    for s in students:
        s.add_init_script(COUNT_WS_SENDS)
        join(s, app_url, code)
    teacher.wait_for_function("() => document.querySelector('[data-testid=\"cx-class-status\"]')"
                              ".innerText.includes('3 students, 3 following')",
                              timeout=FOLLOW_MS)
    assert_students_show(teacher, students, 0)
    sent = [s.evaluate("window.__wsSent") for s in students]

    # the teacher steps, then changes the stride in the view: every student follows
    view(teacher, "v.go(5)")
    assert_students_show(teacher, students, 5)
    slide(teacher, "cx-ctl-stride-1")  # stride W 1 -> 2
    assert view(teacher, "v.scene.stride") == [1, 2]
    view(teacher, "v.go(3)")
    assert_students_show(teacher, students, 3)
    # the teacher pins an input cell: every student's view lights the same cell and the
    # output cells that read it, as the core's window map says
    x, y = teacher.evaluate("""() => {
      const g = document.querySelector('[data-testid="cx-root"]').__cx.inputs[0];
      g.dyn.scrollIntoView({block: 'center'});
      const b = g.dyn.getBoundingClientRect();
      return [b.left + 3.5 * g.cs, b.top + 3.5 * g.ch];
    }""")
    teacher.mouse.click(x, y)
    teacher.mouse.move(2, 2)
    wait_dataset(teacher, "pinned", "input")
    s_, comp = shown_core(shown(teacher)["query"])
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s_.stride, s_.padding,
                         s_.dilation)
    readers = [k for k in range(wmap.steps) if [3, 3] in wmap.coords[k].tolist()]
    lit = dataset(teacher, "lit")
    assert sorted(map(int, lit.split(","))) == readers
    for s in students:
        wait_dataset(s, "pinned", "input")
        wait_dataset(s, "lit", lit)
    # following happens in the page: no student's page asked its server for a script rerun
    assert [s.evaluate("window.__wsSent") for s in students] == sent

    # a locked student's keys do not move their view
    students[0].locator(ROOT_SEL).focus()
    students[0].keyboard.press("ArrowRight")
    assert dataset(students[0], "step") == "3" and dataset(students[0], "classLock") == "1"

    # a class prediction: two students right, one wrong, counted in the teacher's histogram
    teacher.get_by_test_id("cx-class-ask-cell").click()
    value = core_view(shown(teacher)["query"], 3)["value"]
    typed = [f"{value:g}", f"{value:g}", f"{value + 1:g}"]
    for s, answer in zip(students, typed):
        wait_dataset(s, "classQuestion", "cell")
        s.get_by_test_id("cx-class-answer").fill(answer)
        s.get_by_test_id("cx-class-send").click()
        s.wait_for_function("() => document.querySelector('[data-testid=\"cx-class-sent\"]')"
                            ".innerText.startsWith('sent:')", timeout=FOLLOW_MS)
    teacher.wait_for_function("() => document.querySelector('[data-testid=\"cx-class-count\"]')"
                              ".innerText.startsWith('3 answers')", timeout=FOLLOW_MS)
    bars = teacher.evaluate("""() => [...document.querySelectorAll(
      '[data-testid="cx-class-histogram"] .cx-class-bar')].map((b) => [b.dataset.value,
      Number(b.dataset.count), !!b.querySelector('.cx-right')])""")
    assert bars == [[f"{value:g}", 2, True], [f"{value + 1:g}", 1, False]]
    assert "67 % right" in teacher.inner_text('[data-testid="cx-class-count"]')
    shot(teacher, artifacts, "live-class-teacher-histogram")
    teacher.get_by_test_id("cx-class-reveal").click()
    for s, answer in zip(students, typed):
        s.wait_for_function("() => document.querySelector('[data-testid=\"cx-class-result\"]')",
                            timeout=FOLLOW_MS)
        result = s.inner_text('[data-testid="cx-class-result"]')
        assert f"Answer: {value:g}" in result and "3 answered, 67 % right" in result
        assert ("\u2713" if answer == f"{value:g}" else "\u2717") in result
    shot(students[2], artifacts, "live-class-student-result")
    for tab in (teacher, *students):
        assert not tab.errors, tab.errors


def test_a_student_leaves_and_rejoins_and_a_forged_token_cannot_drive(tabs, app_url):
    teacher = tabs()
    code = start_class(teacher, app_url)
    view(teacher, "v.go(4)")
    student = tabs()
    join(student, app_url, code)  # a latecomer starts where the teacher is
    wait_dataset(student, "step", "4")

    student.get_by_role("button", name="Leave the class").click()
    wait_until_idle(student)
    student.wait_for_function("() => !document.querySelector('[data-testid=\"cx-class\"]')")
    view(teacher, "v.go(6)")
    student.wait_for_timeout(800)
    assert dataset(student, "step") != "6"  # left: the view is the student's own again
    view(student, "v.go(1)")  # and takes their own steps
    assert dataset(student, "step") == "1"

    box = student.get_by_role("textbox", name="Join with a code")
    box.fill(code.lower().replace("-", ""))  # as read aloud: case and dashes do not matter
    box.press("Enter")
    wait_dataset(student, "classStatus", "live", 30_000)
    wait_dataset(student, "step", "6")

    forger = tabs()
    open_view(forger, f"{app_url}/explorer_2d?class={code}&token={'A' * 43}")
    wait_dataset(forger, "classStatus", "live", 30_000)
    assert dataset(forger, "classRole") == "student"
    assert "not this class's" in forger.locator('[data-testid="stSidebar"]').inner_text()
    assert forger.get_by_test_id("cx-class-follow").count() == 0  # no levers
    view(teacher, "v.go(2)")
    wait_dataset(forger, "step", "2")
    wait_dataset(student, "step", "2")
    for tab in (teacher, student, forger):
        assert not tab.errors, tab.errors


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """deploy/serve.py: nginx, two replicas and the redis-server it starts (needs nginx and
    redis-server: CONVCORE_REQUIRE_NGINX / CONVCORE_REQUIRE_REDIS make their absence fail)."""
    from deployment import Classroom, nginx_or_skip, redis_or_skip

    nginx_or_skip()
    redis_or_skip()
    room = Classroom(tmp_path_factory.mktemp("live-deployment"))
    yield room
    room.stop()


def replica_of(page) -> str:
    from deploy import serve

    return next(c["value"] for c in page.context.cookies() if c["name"] == serve.COOKIE)


def test_students_on_another_replica_follow_and_resync_after_it_is_killed(tabs, deployment,
                                                                          artifacts):
    url = deployment.url
    teacher = tabs((url, "r1"))
    code = start_class(teacher, url)
    students = [tabs((url, "r2")) for _ in range(3)]
    for s in students:
        join(s, url, code)
    assert replica_of(teacher) == "r1" and {replica_of(s) for s in students} == {"r2"}
    view(teacher, "v.go(5)")
    assert_students_show(teacher, students, 5)
    slide(teacher, "cx-ctl-stride-1")  # stride W 1 -> 2, on r1; the students' scenes from r2
    view(teacher, "v.go(2)")
    assert_students_show(teacher, students, 2)

    # r2 dies: its students' pages reconnect through nginx to r1 and are in sync by themselves
    r2 = deployment.replicas()["r2"]
    os.kill(r2["pid"], signal.SIGKILL)
    killed = time.monotonic()
    view(teacher, "v.go(4)")
    for s in students:
        wait_dataset(s, "step", "4", 20_000)
        wait_dataset(s, "classStatus", "live", 20_000)
    resync_s = time.monotonic() - killed
    assert_students_show(teacher, students, 4)
    print(f"students of a killed replica back in sync after {resync_s:.2f} s")
    assert resync_s < 10  # the aim is 2 s; this machine is shared and noisy
    shot(students[0], artifacts, "live-class-after-failover")
    deployment.wait_serving("r2", r2["pid"])
    for tab in (teacher, *students):
        assert not tab.errors, tab.errors


def test_the_teachers_levers_pause_free_follow_and_a_size_question(tabs, app_url):
    teacher = tabs()
    code = start_class(teacher, app_url)
    student = tabs()
    join(student, app_url, code)
    status = '[data-testid="cx-class-status"]'

    # pause: every student's screen shows the teacher's message, and nothing else works
    teacher.get_by_test_id("cx-class-pause-text").fill("Look at the board")
    teacher.get_by_test_id("cx-class-pause").click()
    expect_text(student, '[data-testid="cx-class-paused"]', "Look at the board")
    assert dataset(student, "classMode") == "pause" and dataset(student, "classLock") == "1"

    # free: the student explores on their own, the teacher sees where; snap back follows again
    teacher.get_by_test_id("cx-class-free-mode").click()
    student.wait_for_selector('[data-testid="cx-class-paused"]', state="detached")
    expect_text(student, status, "free: explore when you like")
    student.get_by_test_id("cx-class-explore").click()
    expect_text(student, status, "exploring on your own")
    view(teacher, "v.go(6)")
    student.locator(ROOT_SEL).focus()
    student.keyboard.press("End")  # the student's own keys move their own view
    steps = view(student, "v.steps")
    wait_dataset(student, "step", str(steps - 1))
    slide(student, "cx-ctl-stride-0")  # and their own layer: the teacher sees it
    expect_text(teacher, '[data-testid="cx-class-free"]', "stride=2")
    expect_text(teacher, '[data-testid="cx-class-free"]', "\u00d7 1")
    student.get_by_test_id("cx-class-explore").click()  # "Snap back to the teacher"
    wait_dataset(student, "step", "6")
    assert shown(student)["query"] == shown(teacher)["query"]

    # follow: locked again; a size question hides the output until the reveal
    teacher.get_by_test_id("cx-class-follow").click()
    wait_dataset(student, "classLock", "1")
    teacher.get_by_test_id("cx-class-ask-shape").click()
    wait_dataset(student, "classQuestion", "shape")
    assert not student.locator(f"{ROOT_SEL} .cx-output").first.is_visible()
    want = core_view(shown(teacher)["query"], 6)["out_shape"]  # 7x6 input, 2x2 kernel: 6x5
    student.get_by_test_id("cx-class-answer").fill("x".join(map(str, want)))
    student.get_by_test_id("cx-class-send").click()
    expect_text(teacher, '[data-testid="cx-class-count"]', "1 answer \u00b7 100 % right")
    teacher.get_by_test_id("cx-class-show").click()  # shown on every screen, nobody named
    expect_text(student, '[data-testid="cx-class-shown"]',
                "An answer from the class: " + "\u00d7".join(map(str, want)))
    teacher.get_by_test_id("cx-class-reveal").click()
    wait_dataset(student, "classQuestion", "")
    assert student.locator(f"{ROOT_SEL} .cx-output").first.is_visible()

    # Play travels as "playing from step s at time t": the student plays along, and stops
    # where the teacher stops
    view(teacher, "(v.go(0), v.speed = 2, v.play(), true)")
    student.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').__cx.playing",
                              timeout=FOLLOW_MS)
    teacher.wait_for_timeout(1200)
    view(teacher, "(v.stop(true), true)")
    stopped = int(dataset(teacher, "step"))
    assert stopped >= 1
    student.wait_for_function(f"() => !document.querySelector('{ROOT_SEL}').__cx.playing",
                              timeout=FOLLOW_MS)
    wait_dataset(student, "step", str(stopped))
    for tab in (teacher, student):
        assert not tab.errors, tab.errors


def expect_text(page, selector: str, text: str, timeout: int = FOLLOW_MS) -> None:
    page.wait_for_function(
        f"() => {{ const e = document.querySelector({json.dumps(selector)}); "
        f"return !!e && e.innerText.includes({json.dumps(text)}); }}", timeout=timeout)


def teacher_opens(teacher, student, link: str, path: str, step: int) -> list:
    """The teacher opens page ``path`` from the navigation (the same session) and goes to
    ``step``: the student's page goes there too, in the class, on the teacher's layer, and
    shows the same scene, step, taps and equation.  What both show: [page, scene id, step,
    layout, taps, equation]."""
    def opened(tab):
        tab.wait_for_url(re.compile(rf"/{path}\?.*class="), timeout=30_000)
        wait_until_idle(tab)
        tab.wait_for_selector(f"{ROOT_SEL} .cx-eq", timeout=60_000)
        wait_dataset(tab, "classStatus", "live", 30_000)

    teacher.get_by_role("link", name=link).click()
    opened(teacher)
    wait_dataset(teacher, "classRole", "teacher", 30_000)
    view(teacher, f"v.go({step})")
    opened(student)
    wait_dataset(student, "step", str(step), 10_000)
    mine, theirs = (view(p, "[v.payload.page, v.sceneId, v.step, v.scene.layout || null, "
                           "v.root.dataset.taps || '', v.root.querySelector('.cx-eq').innerText]")
                    for p in (teacher, student))
    assert theirs == mine
    return mine


def test_students_follow_the_teacher_to_another_page(tabs, app_url):
    """The teacher opens the 3-D page, then the transposed page from the navigation (the same
    session): each student's page goes there too, in the class, and shows the teacher's scene
    and step; the teacher reloads and still drives the class; then the transposed page turns
    to 3-D (another layout: the student's tab opens the 3-D view) and its gather mode."""
    teacher = tabs()
    code = start_class(teacher, app_url)
    student = tabs()
    join(student, app_url, code)
    # the 3-D page (another view: its depth slices), then the transposed page
    mine = teacher_opens(teacher, student, "3-D convolution", "explorer_3d", step=5)
    assert mine[0] == "explorer_3d" and mine[3] == "slices"
    # a question on the 3-D page: the student's view hides the asked voxel and the later ones
    # until answered; the answer is the core's value there
    want = core_view(shown(teacher)["query"], 5, ndim=3)
    assert mine[5] == want["eq"]
    teacher.get_by_test_id("cx-class-ask-cell").click()
    wait_dataset(student, "classQuestion", "cell")
    assert view(student, "[v.hidden(v.step), v.hidden(v.step - 1)]") == [True, False]
    student.get_by_test_id("cx-class-answer").fill(f"{want['value']:g}")
    student.get_by_test_id("cx-class-send").click()
    teacher.wait_for_function("() => document.querySelector('[data-testid=\"cx-class-count\"]')"
                              ".innerText.startsWith('1 answer · 100 % right')", timeout=FOLLOW_MS)
    teacher.get_by_test_id("cx-class-reveal").click()
    student.wait_for_function("() => document.querySelector('[data-testid=\"cx-class-result\"]')",
                              timeout=FOLLOW_MS)
    assert f"Answer: {want['value']:g}" in student.inner_text('[data-testid="cx-class-result"]')
    assert view(student, "v.hidden(v.step)") is False
    # the teacher turns reveal on: the student's 3-D view reveals, and its bar says so
    teacher.get_by_role("checkbox", name="reveal", exact=True).check()
    student.wait_for_function(f"() => {{ const v = document.querySelector('{ROOT_SEL}').__cx; "
                              "return v.reveal && v.revealBox.checked; }", timeout=FOLLOW_MS)
    teacher.get_by_role("checkbox", name="reveal", exact=True).uncheck()
    mine = teacher_opens(teacher, student, "Transposed & gradients", "transposed", step=2)
    assert mine[0] == "transposed"
    # the teacher reloads the page: still the teacher, in the view and in the sidebar (the
    # server's new session got the token once more), and the token is not left in the address
    teacher.reload()
    wait_until_idle(teacher)
    wait_dataset(teacher, "classRole", "teacher", 30_000)
    wait_dataset(teacher, "classStatus", "live", 30_000)
    sidebar = teacher.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text(f"Class {code} — you drive it").wait_for(timeout=30_000)
    assert sidebar.get_by_text("your view follows the teacher's").count() == 0
    teacher.wait_for_function("() => !window.location.search.includes('token')")
    assert f"class={code}" in teacher.url
    view(teacher, "v.go(4)")
    wait_dataset(student, "step", "4", 10_000)  # and it still drives the class
    # the teacher turns the page to 3-D: another layout, so the student's tab opens the
    # transposed page in 3-D (its 3-D view) and follows its step and mode there
    teacher.get_by_text("3-D", exact=True).click()
    slices = (f"() => (document.querySelector('{ROOT_SEL}') || {{dataset: {{}}}}).dataset"
              ".layout === 'slices'")
    teacher.wait_for_function(slices, timeout=60_000)
    wait_until_idle(teacher)
    wait_dataset(teacher, "classStatus", "live", 30_000)
    view(teacher, "v.go(2)")
    student.wait_for_function(slices, timeout=60_000)
    wait_dataset(student, "step", "2", 20_000)
    view(teacher, "(v.setMode('gather'), v.go(5), 0)")
    wait_dataset(student, "mode", "gather", 20_000)
    wait_dataset(student, "step", "5", 20_000)
    mine, theirs = (view(p, "[v.payload.page, v.sceneId, v.viewMode, v.root.querySelector("
                           "'.cx-eq').innerText]") for p in (teacher, student))
    assert mine[:3] == ["transposed", mine[1], "gather"] and theirs == mine
    for tab in (teacher, student):
        assert not tab.errors, tab.errors
