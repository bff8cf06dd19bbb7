// One lifecycle for every view (explorer, transposed, receptive field, network): mount on
// Streamlit's element, load a payload — in place when it is the scene already shown —, fetch a
// scene from the scene API by a page's URL query, report back to Streamlit once the user stops,
// copy links.
//
// A payload (app/view.py, app/api.py) is {scene_id, init, presenter, scene | null, and for
// views with layer controls: page, query, layer, limits, notices, ack}.  `scene` null: the
// page did not resend a scene the view holds; a view that does not hold it fetches it.
//
// Keys: a key press belongs to the control it comes from when the browser gives it a meaning
// there (a11y.js: ownsKey), else to the grids' cursor (a11y.js), else to the view (onKey).  With
// nothing focused (the page's body) only the left and right arrows (steps) and Escape reach
// the view: Space and the others scroll the page as usual.

import {Access, ownsKey} from "./a11y.js";

const REPORT_DELAY_MS = 400;
const REPORTS = {seq: Date.now()};  // one sequence for every report of the page

// A live class (live.js) attaches itself to a view whose payload names one (`payload.class`):
// `CLASS.attach(view, data, page)`.  A bundle without live.js leaves it null.
export const CLASS = {attach: null};

// The scene API's address for a page and its URL query, relative to the document (the app may
// be served under a base path; the API's routes follow it).
export function sceneUrl(page, query) {
  const params = new URLSearchParams({page, ...query});
  return new URL(`api/v1/scene?${params}`, document.baseURI).href;
}

export class ViewBase {
  constructor(root) {
    this.root = root;
    root.__cx = this;
    this.report = () => {};
    this.payload = null;
    this.sceneId = null;
    this.reported = "";
    this.ahead = 0;  // seq of the last report that carried a layer change of the view's own
    this.pending = false;  // a layer change of the view's own not reported yet
    this.requests = 0;  // scene API requests made, and the newest one shown
    this.shownRequest = 0;
    this.loads = 0;  // read by the tests and benchmarks/bench_browser.py
    this.a11y = new Access(this);
    this.classLink = null;  // the live class this view follows or drives (live.js)
    // The keyboard cursor reads cells as the mouse's hover does, on a locked student's view
    // too; what acts (Enter pins, the view's own keys) obeys the class.
    const allowed = (e) => (e.cxAllowed ??= this.keyAllowed(e));  // asked once per event
    root.addEventListener("keydown", (e) => {
      if ((e.key !== "Enter" || allowed(e)) && this.a11y.key(e)) return;
      if (ownsKey(e.target, e.key) || !allowed(e)) return;
      this.onKey(e);
    });
    // nothing focused: the page's body, or a container around the view (Streamlit's main
    // area is a tab stop: a click anywhere in it focuses it)
    this.onDocKey = (e) => {
      const a = document.activeElement;
      const outside = a === document.body || (a && a !== this.root && a.contains(this.root));
      if (outside && document.body.contains(this.root) &&
          ["ArrowLeft", "ArrowRight", "Escape"].includes(e.key) && !e.altKey && !e.ctrlKey &&
          !e.metaKey && allowed(e)) {
        this.onKey(e);
      }
    };
    document.addEventListener("keydown", this.onDocKey);
    this.onResize = () => {
      if (!document.body.contains(this.root)) {  // the page dropped this view
        window.removeEventListener("resize", this.onResize);
        document.removeEventListener("keydown", this.onDocKey);
        return;
      }
      clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => this.relayout(), 150);
    };
    window.addEventListener("resize", this.onResize);
  }

  // ------------------------------------------------------------------ hooks

  show(payload) {}  // draw a new scene (payload.scene), from payload.init
  refresh(payload, previous) {}  // the same scene: what else changed (presenter, controls)
  relayout() {}  // the window changed size
  onKey(e) {}
  viewState() { return {}; }  // what a report carries besides the scene and the query
  reportName() { return "view"; }
  requestFailed(status, error) {}  // the scene API refused a change of the view's own
  afterRender() {  // a view calls it after each render: a class's teacher sends what changed
    if (this.classLink) this.classLink.rendered();
  }

  keyAllowed(e) {  // a student's view locked to the teacher's takes no keys
    return !this.classLink || this.classLink.allowsKey(e);
  }

  // The view's tooltip (`this.tip`, in the root) saying `text` beside client position `at`
  // (the mouse's or the keyboard cursor's), kept inside the root's width.
  showTip(text, at) {
    this.tip.textContent = text;
    this.tip.style.display = "block";
    const box = this.root.getBoundingClientRect();
    const x = at.x - box.left + 14;
    const maxX = box.width - this.tip.offsetWidth - 4;
    this.tip.style.left = `${Math.max(0, Math.min(x, maxX))}px`;
    this.tip.style.top = `${at.y - box.top + 16}px`;
  }

  // ------------------------------------------------------------------ loading

  load(payload) {
    if (typeof payload === "string") payload = JSON.parse(payload);
    if ("class" in payload && CLASS.attach && this.live) {
      CLASS.attach(this, payload.class, payload.page);
    }
    // following the teacher: the view shows the class's scene, not the page's
    if (this.payload && this.classLink && !this.classLink.mayReport()) return;
    if (this.payload && payload.scene_id === this.sceneId) {
      const previous = this.payload;
      this.payload = {...previous, ...payload, scene: previous.scene};
      this.refresh(this.payload, previous);
      return;
    }
    // The page has not applied the view's own last layer change yet: what it sends is older
    // than what the view shows (its report is on the way).
    if (this.payload && (this.pending || (payload.ack || 0) < this.ahead)) return;
    if (!payload.scene) {
      if (payload.page && payload.query) this.fetch(payload.query, {}, payload);
      return;
    }
    this.showPayload(payload);
    // what the page sent is what it knows: nothing to report until the user changes it
    this.reported = JSON.stringify([this.sceneId, this.reportBody()]);
  }

  showPayload(payload) {
    const t0 = performance.now();
    this.payload = payload;
    this.sceneId = payload.scene_id;
    this.show(payload);
    this.loads += 1;
    // what was shown, in order (the tests read it: a dragged slider shows every value)
    this.history = [...(this.history || []).slice(-49),
                    {scene: payload.scene_id, query: payload.query || null}];
    this.loadedAt = performance.now();
    this.loadMs = this.loadedAt - t0;
  }

  // Ask the scene API for this page's layer with `changes` to its URL query (null drops a
  // parameter) and show the answer.  Answers are shown in the order asked; one that arrives
  // after a newer one is dropped.  On a refusal the view keeps its scene and says why; when the
  // API cannot answer at all (an upload, the rate limit, no network) the page is asked.
  request(changes, extra = {}) {
    const query = {...this.payload.query};
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === undefined) delete query[key];
      else query[key] = String(value);
    }
    this.pending = true;
    return this.fetch(query, {...this.viewQuery(), ...extra});
  }

  viewQuery() {
    return {};
  }

  // Show a scene API answer: in place when it is the scene shown (no redraw).
  accept(body, base = null) {
    const now = this.payload || base;
    const answer = {...body, presenter: now.presenter, ack: now.ack || 0};
    if (this.payload && answer.scene_id === this.sceneId) {
      const previous = this.payload;
      this.payload = {...previous, ...answer, scene: previous.scene};
      this.refresh(this.payload, previous);
    } else {
      this.showPayload(answer);
    }
  }

  fetch(query, view = {}, base = null) {
    const n = ++this.requests;
    const page = (base || this.payload).page;
    this.requestedAt = performance.now();
    const asked = {...query, ...view};
    return window.fetch(sceneUrl(page, asked), {headers: {Accept: "application/json"}})
      .then((r) => r.json().then((body) => [r.status, body]), () => [0, null])
      .then(([status, body]) => {
        if (n < this.shownRequest) return;  // a newer answer is shown already
        this.shownRequest = n;
        this.fetchMs = performance.now() - this.requestedAt;  // request to parsed answer
        if (status === 200) {
          this.accept(body, base);
          this.scheduleReport();
          return;
        }
        const error = body && body.error ? body.error : {message: "no answer from the server"};
        this.requestFailed(status, error);
        if (status === 0 || status === 429 || (status === 422 && error.parameter === "src")) {
          this.reportNow({query});  // the page computes it instead
        } else {
          this.pending = false;
        }
      });
  }

  // ------------------------------------------------------------------ reporting

  reportBody(extra = {}) {
    const body = {...this.viewState(), ...extra};
    if (this.payload && this.payload.query && !("query" in body)) body.query = this.payload.query;
    return body;
  }

  scheduleReport() {
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => this.reportNow(), REPORT_DELAY_MS);
  }

  // One state value per report, tagged with its scene and a sequence number, so the page can
  // tell a fresh report from one left over from an earlier scene.
  reportNow(extra = {}) {
    clearTimeout(this.reportTimer);
    if (this.playing || (this.classLink && !this.classLink.mayReport())) return;
    const body = this.reportBody(extra);
    const text = JSON.stringify([this.sceneId, body]);
    if (text === this.reported) return;
    this.reported = text;
    REPORTS.seq += 1;
    if (this.pending) {
      this.ahead = REPORTS.seq;
      this.pending = false;
    }
    this.report(this.reportName(), {scene: this.sceneId, seq: REPORTS.seq, ...body});
  }

  // ------------------------------------------------------------------ links

  link() {
    return window.location.href;
  }

  copyLink() {
    const url = this.link();
    copyText(url).then((ok) => {
      if (this.copied) this.copied.textContent = ok ? "link copied" : url;
      this.root.dataset.link = url;
      clearTimeout(this.copiedTimer);
      if (ok && this.copied) {
        this.copiedTimer = setTimeout(() => { this.copied.textContent = ""; }, 2500);
      }
    });
  }
}

// Streamlit calls a component's mount again with the same parent whenever its data changes:
// the view lives on a root element inside the parent (`root.__cx`) and loads the new data.
export function mountView(ViewClass, {data, parentElement, setStateValue},
                          {rootClass = "cx-root", testId = "cx-root",
                           label = "convolution view"} = {}) {
  const payload = typeof data === "string" ? JSON.parse(data) : data;
  const selector = `:scope > .${rootClass.split(" ").pop()}`;
  let root = parentElement.querySelector(selector);
  if (!root) {
    root = document.createElement("div");
    root.className = rootClass;
    root.tabIndex = 0;
    root.setAttribute("data-testid", testId);
    root.setAttribute("role", "region");  // a landmark: the skip link's target (app/shared/a11y.py)
    root.setAttribute("aria-label", label);
    parentElement.appendChild(root);
  }
  const view = root.__cx || new ViewClass(root);
  view.report = setStateValue || (() => {});
  view.live = !!setStateValue;  // false in the offline HTML export: no server to ask
  view.load(payload);
  return view;
}

// Copy `text` to the clipboard; resolves to whether it worked.  The Clipboard API needs a
// secure context (https or localhost); a classroom server on plain http gets the old
// execCommand("copy") on a hidden text area instead.
export function copyText(text) {
  const fallback = () => {
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (err) {
      ok = false;
    }
    area.remove();
    return ok;
  };
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text).then(() => true, fallback);
  }
  return Promise.resolve(fallback());
}
