// A live class (app/live): the teacher's view drives every student's.  component.js attaches a
// ClassLink to a view whose payload names a class ({code, role, token, join, qr}).
//
// - The event stream (GET .../events) is read with fetch, not EventSource: the teacher's token
//   travels in a header, never in a URL a proxy logs, and a refusal's status and reason are
//   read (EventSource gives up silently on a 404; a student forgotten after 15 min away joins
//   again).  Every connection starts with the class's whole state, so a latecomer or a
//   reconnect is in sync by itself.
// - A student following the teacher loads the teacher's scene from the class's scene route
//   (the scene API's answer for the class's page and query) and applies step, Play, reveal and
//   the pinned cell in place: no Streamlit rerun, nothing reported to the page.
// - The teacher's view sends what changed after each render: one request in flight, the
//   newest state wins; Play travels as "playing from step s at time t", not frame by frame.

import {CLASS} from "./component.js";
import {idx} from "./format.js";

const SEND_GAP_MS = 40;  // the teacher's changes, at most this often (its limit: 60 a second)
const RETRY_MS = [500, 1000, 2000, 4000];  // waits after failed connections, growing
const PRESENCE_DELAY_MS = 800;
const MAX_PRESENCE_QUERY = 8192;  // app/live/messages.py
const PAUSE_TEXT = "Eyes up here";
const RECLAIM_MS = 15_000;  // a reloaded teacher's tab gives the server its token once in this

// the scene a view shows (its layout: what the page draws)
const shownScene = (view) => view.payload && view.payload.scene;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function classUrl(code, path = "", params = null) {
  const u = new URL(`api/v1/classes/${encodeURIComponent(code)}${path}`, document.baseURI);
  if (params) u.search = new URLSearchParams(params).toString();
  return u.href;
}

// A URL query in one canonical form (sorted), and the transposed view's mode apart from it.
function canonical(query) {
  const params = new URLSearchParams(typeof query === "string" ? query : query || {});
  const mode = params.get("tview");
  params.delete("tview");
  params.sort();
  return {text: params.toString(), mode};
}

function remembered(code) {
  try {
    return JSON.parse(window.sessionStorage.getItem(`cx-class:${code}`) || "{}");
  } catch (err) {
    return {};
  }
}

function remember(code, values) {
  try {
    const key = `cx-class:${code}`;
    if (values === null) window.sessionStorage.removeItem(key);
    else window.sessionStorage.setItem(key, JSON.stringify({...remembered(code), ...values}));
  } catch (err) {
    // storage refused (private mode): this tab joins again after a reload
  }
}

// This tab drove the class and was reloaded: the server's new session knows only the code
// (the token never sits in the address), so the page is opened once more with the token, which
// the server keeps in the session and drops from the address at once — the sidebar then shows
// the teacher's links again.  Tried once: a token the server refuses leaves this tab a student
// (as ClassLink.refused does).  True while the page is being replaced.
function reclaim(code) {
  const saved = remembered(code);
  if (!saved.token) return false;
  if (saved.reclaimed && Date.now() - saved.reclaimed < RECLAIM_MS) {
    remember(code, {token: null, reclaimed: null});
    return false;
  }
  remember(code, {reclaimed: Date.now()});
  const u = new URL(window.location.href);
  u.searchParams.set("token", saved.token);
  window.location.replace(u.href);
  return true;
}

function el(tag, className, parent, testId, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (testId) e.setAttribute("data-testid", testId);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function button(parent, text, testId, onClick, title = "") {
  const b = el("button", "", parent, testId, text);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", (e) => {
    e.preventDefault();
    onClick();
  });
  return b;
}

export class ClassLink {
  constructor(view, data, page) {
    this.view = view;
    this.code = data.code;
    this.data = data;
    this.home = page;  // the page this view is on (the scene API names it: explorer_2d)
    const saved = remembered(this.code);
    if (data.token) remember(this.code, {token: data.token, reclaimed: null});
    this.token = data.token || saved.token || null;
    this.role = this.token ? "teacher" : "student";
    this.student = this.token ? null : saved.student || null;
    this.state = null;
    this.seq = -1;
    this.sent = null;  // the teacher: the class's state as last sent (or received)
    this.serverOffset = 0;  // the server's clock minus this one (from each snapshot)
    this.exploring = false;
    this.ended = false;
    this.closed = false;
    this.retryMs = 500;
    this.lastSent = 0;
    this.answersSeen = null;
    this.presence = null;
    this.build();
    this.bindRoot();
    this.run();
  }

  update(data) {
    this.data = {...this.data, ...data};
  }

  close() {
    this.closed = true;
    if (this.abort) this.abort.abort();
    clearTimeout(this.sendTimer);
    clearTimeout(this.presenceTimer);
    this.panel.remove();
    if (this.overlay) this.overlay.remove();
    if (this.joinBox) this.joinBox.remove();
    this.lock(false);
    const root = this.view.root;
    for (const key of ["classSeq", "classMode", "classRole", "classLock", "classQuestion",
                       "classStatus"]) {
      delete root.dataset[key];
    }
    this.view.classLink = null;
  }

  // ------------------------------------------------------------------ roles and levers

  following() {  // a student whose view shows the teacher's
    return this.role === "student" && !this.ended && !!this.state &&
      !(this.state.mode === "free" && this.exploring);
  }

  mayReport() {  // the view reports to its page only when it shows the student's own view
    return !this.following();
  }

  locked() {
    return this.role === "student" && !this.ended && !!this.state && this.state.mode !== "free";
  }

  allowsKey(e) {
    if (!this.locked()) {
      if (this.role === "student" && this.state && this.state.mode === "free") this.explore();
      return true;
    }
    return e.key === "Tab";
  }

  // Clicks and keys on a locked view do nothing; in free mode the first one starts exploring.
  bindRoot() {
    const root = this.view.root;
    const guard = (e) => {
      if (this.closed || this.role !== "student" || !this.state || this.ended) return;
      if (this.locked()) {
        e.stopPropagation();
        e.preventDefault();
      } else if (this.state.mode === "free" && !this.exploring) {
        this.explore();
      }
    };
    this.guard = guard;
    root.addEventListener("pointerdown", guard, true);
    root.addEventListener("click", guard, true);
  }

  lock(on) {
    const root = this.view.root;
    root.dataset.classLock = on ? "1" : "";
    for (const part of root.querySelectorAll(":scope > .cx-bar, :scope > .cx-controls")) {
      part.inert = on;
    }
  }

  explore() {
    if (this.exploring || !this.state || this.state.mode !== "free") return;
    this.exploring = true;
    this.drawStatus();
    this.schedulePresence();
  }

  snapBack() {
    this.exploring = false;
    this.postPresence(null);
    this.drawStatus();
    this.follow();
  }

  // ------------------------------------------------------------------ the stream

  async join() {
    const r = await window.fetch(classUrl(this.code, "/join"), {method: "POST"})
      .then((res) => res.json().then((body) => [res.status, body]), () => [0, null]);
    const [status, body] = r;
    if (status === 200) {
      this.student = body.student;
      remember(this.code, {student: this.student});
      return true;
    }
    if (status === 404) this.gone(body.error);
    else this.setStatus("reconnecting", body && body.error);
    return false;
  }

  async run() {
    let failures = 0;
    while (!this.closed && !this.ended) {
      if (this.role === "student" && !this.student) {
        if (!(await this.join())) {
          if (this.ended) return;
          await sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]);
          continue;
        }
      }
      const controller = new AbortController();
      this.abort = controller;
      const headers = {Accept: "text/event-stream"};
      if (this.role === "teacher") headers.Authorization = `Bearer ${this.token}`;
      const params = this.role === "student" ? {student: this.student} : null;
      let res = null;
      try {
        res = await window.fetch(classUrl(this.code, "/events", params),
                                 {headers, signal: controller.signal, cache: "no-store"});
      } catch (err) {
        res = null;
      }
      if (this.closed) return;
      if (res && res.ok) {
        failures = 0;
        this.connections = (this.connections || 0) + 1;
        try {
          await this.read(res.body);
        } catch (err) {
          // the connection broke (a replica went away): connect again
        }
        if (this.closed || this.ended) return;
        this.setStatus("reconnecting");
        await sleep(this.retryMs);
        continue;
      }
      const body = res ? await res.json().catch(() => null) : null;
      const why = body && body.error;
      if (res && res.status === 404 && body && body.field === "student") {
        this.student = null;  // forgotten after a long absence: join again
        continue;
      }
      if (res && res.status === 404) {
        this.gone(why);
        return;
      }
      if (res && (res.status === 401 || res.status === 403)) {
        this.refused(why);
        continue;
      }
      this.setStatus("reconnecting", why);
      await sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]);
    }
  }

  async read(stream) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    let text = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      text += decoder.decode(value, {stream: true});
      let end;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        this.block(block);
        if (this.closed || this.ended) {
          reader.cancel().catch(() => {});
          return;
        }
      }
    }
  }

  block(text) {
    let event = "message";
    let data = "";
    for (const line of text.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "event") event = value;
      else if (name === "data") data += (data ? "\n" : "") + value;
      else if (name === "retry" && Number(value) > 0) this.retryMs = Number(value);
    }
    if (!document.body.contains(this.view.root)) {
      this.close();  // the page dropped this view
      return;
    }
    this.setStatus("live");
    if (data) this.handle(event, JSON.parse(data));
  }

  handle(event, data) {
    if (event === "snapshot") {
      this.state = data.state;
      this.seq = data.seq;
      this.serverOffset = (data.now || Date.now()) - Date.now();
      if (this.role === "teacher") this.sent = {...data.state};
      this.changed(true);
    } else if (event === "patch" && this.state) {
      Object.assign(this.state, data.patch);
      this.seq = data.seq;
      this.changed(false, data.patch);
    } else if (event === "answers") {
      this.answersSeen = data;
      this.drawQuestion();
    } else if (event === "presence") {
      this.presence = data;
      this.drawStatus();
    } else if (event === "end") {
      this.finish(data.reason === "expired" ? "The class expired." : "The class has ended.");
    }
  }

  changed(whole, patch = null) {
    const root = this.view.root;
    root.dataset.classSeq = String(this.seq);
    root.dataset.classMode = this.state.mode;
    if (whole || "mode" in patch) {
      if (this.state.mode !== "free") this.exploring = false;
      if (this.state.mode === "follow" && this.role === "student") this.postPresence(null);
    }
    this.lock(this.locked());
    this.drawStatus();
    this.drawPause();
    if (whole || "question" in patch || "shown" in patch) this.drawQuestion();
    if (whole || "question" in patch) this.hideAnswer();
    if (this.role === "teacher") this.scheduleSend();
    else if (this.following()) this.follow();
  }

  // ------------------------------------------------------------------ following

  follow() {
    const s = this.state;
    const v = this.view;
    if (!s || !s.page || !this.following()) return;
    if (s.page !== this.home) {  // another page: open it, on the teacher's layer
      this.openPage(s);
      return;
    }
    const want = canonical(s.query).text;
    if (!v.payload || v.payload.page !== s.page || canonical(v.payload.query).text !== want) {
      this.loadScene();
      return;
    }
    this.applyView();
  }

  // Open the teacher's page (its sidebar, controls and view), in the class, on the teacher's
  // layer; once per page and layer.
  openPage(s) {
    const q = new URLSearchParams(s.query || "");
    q.set("class", this.code);
    const u = new URL(s.page, document.baseURI);
    u.search = q.toString();
    if (this.navigating === u.href) return;
    this.navigating = u.href;
    window.location.assign(u.href);
  }

  async loadScene() {
    if (this.loading) {
      this.loadAgain = true;
      return;
    }
    this.loading = true;
    try {
      do {
        this.loadAgain = false;
        const t0 = performance.now();
        const [status, body, retry] = await window.fetch(
          classUrl(this.code, "/scene", {student: this.student}), {cache: "no-store"})
          .then((r) => r.json().then((b) => [r.status, b, r.headers.get("Retry-After")]),
                () => [0, null, null]);
        if (this.closed || !this.following()) return;
        if (status === 200) {
          const s = this.state;
          const mine = shownScene(this.view);
          if (mine && body.scene && body.scene.layout !== mine.layout) {
            this.openPage(s);  // a rank this page's view does not draw (the transposed page)
            return;
          }
          body.init = {...body.init, step: s.step, speed: s.speed, reveal: s.reveal};
          this.view.accept(body);
          this.sceneMs = performance.now() - t0;
          this.say("");
        } else if (status === 404 && body && body.field === "student") {
          this.student = null;
          if (this.abort) this.abort.abort();  // the stream joins again, then reloads
          return;
        } else {
          this.say(body && body.error ? body.error : "no answer from the server; retrying");
          if (status === 0 || status === 429 || status >= 500) {
            await sleep(1000 * (Number(retry) || 1));
            this.loadAgain = true;
          }
        }
      } while (this.loadAgain && !this.closed);
    } finally {
      this.loading = false;
    }
    if (this.following()) {
      const v = this.view;
      if (canonical(v.payload.query).text !== canonical(this.state.query).text) {
        this.loadScene();
      } else {
        this.applyView();
      }
    }
  }

  // The teacher's step, Play, speed, reveal, pinned cell and (transposed) mode, in place.
  applyView() {
    const v = this.view;
    const s = this.state;
    if (!v.scene) return;
    const mode = canonical(s.query).mode;
    if (mode && v.setMode && v.viewMode !== mode) v.setMode(mode);
    v.speed = s.speed;
    v.reveal = !!s.reveal;
    v.pinned = this.pinFor(s.pin);
    v.root.dataset.pinned = v.pinned ? v.pinned.kind : "";
    if (v.syncBar) v.syncBar();
    if (s.playing) {
      // where the teacher's Play has got to: it started at `at` (server time) from `step`
      const elapsed = Math.max(0, Date.now() + this.serverOffset - (s.at || 0));
      const at = s.step + Math.floor((elapsed * s.speed) / 1000);
      const key = `${s.at}|${s.step}|${s.speed}|${v.sceneId}`;
      if (at < v.steps - 1 && (!v.playing || this.playKey !== key)) {
        this.playKey = key;
        v.stop(false);
        v.step = Math.max(0, at);
        v.play();
        return;
      }
      if (v.playing && this.playKey === key) {
        v.render();
        return;
      }
      v.stop(false);
      v.go(v.steps - 1, {force: true});
      return;
    }
    this.playKey = null;
    if (v.playing) v.stop(false);
    v.go(s.step, {force: true});
  }

  pinFor(pin) {
    const v = this.view;
    if (!pin || !v.scene) return null;
    const nd = v.scene.ndim;
    const where = pin.kind === "input" ? pin.p : pin.t;
    if (!Array.isArray(where) || where.length !== nd) return null;
    return pin.kind === "input" ? {kind: "input", m: pin.m, p: where} :
      {kind: "kernel", m: pin.m, t: where};
  }

  // ------------------------------------------------------------------ the teacher's view

  rendered() {
    if (this.closed) return;
    const v = this.view;
    if (this.role === "teacher") {
      if (this.askCellBtn) this.askCellBtn.hidden = !this.askable();
      if (v.playing && !this.wasPlaying) this.playFrom = v.step;
      this.wasPlaying = !!v.playing;
      this.scheduleSend();
    } else {
      this.lock(this.locked());
      if (this.exploring) this.schedulePresence();
    }
  }

  viewNow() {
    const v = this.view;
    const p = v.payload;
    if (!p || !p.page || !v.scene) return null;
    const query = new URLSearchParams(p.query || {});
    if (v.viewMode) query.set("tview", v.viewMode);
    const pinned = v.pinned;
    let pin = null;
    if (pinned && pinned.kind === "input") pin = {kind: "input", m: pinned.m, p: pinned.p};
    if (pinned && pinned.kind === "kernel") pin = {kind: "kernel", m: pinned.m, t: pinned.t};
    return {page: p.page, query: query.toString(), step: v.playing ? this.playFrom : v.step,
            playing: !!v.playing, speed: v.speed, reveal: !!v.reveal, pin};
  }

  scheduleSend() {
    if (this.role !== "teacher" || !this.sent || this.ended || this.closed) return;
    if (this.sending) {
      this.dirty = true;
      return;
    }
    const wait = this.lastSent + SEND_GAP_MS - performance.now();
    if (wait > 0) {
      clearTimeout(this.sendTimer);
      this.sendTimer = setTimeout(() => this.scheduleSend(), wait);
      return;
    }
    const now = this.viewNow();
    if (!now) return;
    const diff = {};
    for (const [key, value] of Object.entries(now)) {
      if (JSON.stringify(value) !== JSON.stringify(this.sent[key])) diff[key] = value;
    }
    if (!Object.keys(diff).length) return;
    if ("page" in diff || "query" in diff) Object.assign(diff, {page: now.page, query: now.query});
    if ("step" in diff || "playing" in diff) {
      Object.assign(diff, {step: now.step, playing: now.playing, speed: now.speed});
    }
    this.sending = true;
    this.dirty = false;
    this.lastSent = performance.now();
    this.post({action: "view", ...diff}).then((ok) => {
      this.sending = false;
      if (ok) Object.assign(this.sent, diff);
      if (ok || this.dirty) this.scheduleSend();
      else this.sendTimer = setTimeout(() => this.scheduleSend(), 1000);
    });
  }

  // A teacher's action; resolves to whether it was taken.  A refusal is said in the panel.
  async post(body) {
    const [status, answer] = await window.fetch(classUrl(this.code, "/teacher"), {
      method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", Authorization: `Bearer ${this.token}`},
    }).then((r) => r.json().then((b) => [r.status, b]), () => [0, null]);
    if (status === 200) {
      if (body.action !== "view") this.say("");
      return answer;
    }
    const why = answer && answer.error ? answer.error : "no answer from the server";
    if (status === 401 || status === 403) this.refused(why);
    else if (status === 404) this.gone(why);
    else this.say(why);
    return null;
  }

  // Can the students predict the view's current cell?  Its scene must be drawn and exact (a
  // view is attached to the class before its first scene arrives).
  askable() {
    const v = this.view;
    return !!(v.scene && v.values && v.canPredict && v.canPredict());
  }

  askCell() {
    const v = this.view;
    if (!this.askable()) return;
    const cell = v.values.outIndex(v.step);
    this.post({action: "ask", kind: "cell", cell, answer: v.values.out(v.step),
               prompt: `Predict out[${idx(cell)}]`});
  }

  askShape() {
    const v = this.view;
    const layer = (v.payload && v.payload.layer) || {};
    const shape = [layer.batch || 1, layer.outmaps || 1, ...v.scene.out_shape];
    this.post({action: "ask", kind: "shape", answer: shape,
               prompt: "What is the output's size?"});
  }

  // ------------------------------------------------------------------ a student's answers

  async sendAnswer() {
    const q = this.state && this.state.question;
    const text = this.answerBox.value.trim();
    if (!q || !q.open || !text) return;
    const [status, body] = await window.fetch(classUrl(this.code, "/answers"), {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({student: this.student, question: q.id, value: text}),
    }).then((r) => r.json().then((b) => [r.status, b]), () => [0, null]);
    if (status === 200) {
      this.myAnswer = {question: q.id, value: body.value};
      this.drawQuestion();
      return;
    }
    if (status === 404 && body && body.field === "student") {
      this.student = null;
      if (this.abort) this.abort.abort();
    }
    this.answerNote.textContent = body && body.error ? body.error : "not sent: no answer " +
      "from the server";
    this.answerNote.classList.add("cx-class-error");
  }

  postPresence(page, query = null) {
    if (this.role !== "student" || !this.student) return;
    clearTimeout(this.presenceTimer);
    const body = {student: this.student, page};
    if (page) body.query = query && query.length <= MAX_PRESENCE_QUERY ? query : null;
    this.reportedPlace = page ? `${page}?${body.query}` : null;
    window.fetch(classUrl(this.code, "/presence"), {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    }).catch(() => {});
  }

  schedulePresence() {
    const p = this.view.payload;
    if (!p || !p.page) return;
    const query = canonical(p.query).text;
    if (this.reportedPlace === `${p.page}?${query}`) return;
    clearTimeout(this.presenceTimer);
    this.presenceTimer = setTimeout(() => {
      if (this.exploring) this.postPresence(p.page, query);
    }, PRESENCE_DELAY_MS);
  }

  // ------------------------------------------------------------------ drawing

  build() {
    const p = el("div", "cx-class", null, "cx-class");
    p.setAttribute("role", "region");
    p.setAttribute("aria-label", `class ${this.code}`);
    this.panel = p;
    const head = el("div", "cx-class-head", p);
    this.statusText = el("span", "cx-class-status", head, "cx-class-status");
    this.statusText.setAttribute("aria-live", "polite");
    this.actions = el("span", "cx-class-actions", head);
    this.message = el("div", "cx-class-message", p, "cx-class-message");
    this.message.setAttribute("role", "status");
    this.questionBox = el("div", "cx-class-question", p, "cx-class-question");
    this.freeBox = el("div", "cx-class-free", p, "cx-class-free");
    this.shownBox = el("div", "cx-class-shown", p, "cx-class-shown");
    this.shownBox.setAttribute("aria-live", "polite");
    this.view.root.before(p);
    this.buildActions();
    this.setStatus("connecting");
    this.say("");
    this.drawQuestion();
  }

  buildActions() {
    const a = this.actions;
    a.replaceChildren();
    this.askCellBtn = null;
    this.view.root.dataset.classRole = this.role;
    if (this.role === "teacher") {
      button(a, "Join code", "cx-class-joincode", () => this.showJoin(),
             "show the code, the link and the QR code large, for the projector");
      const levers = el("span", "cx-class-levers", a);
      levers.setAttribute("role", "group");
      levers.setAttribute("aria-label", "students' views");
      this.levers = {
        follow: button(levers, "Follow me", "cx-class-follow",
                       () => this.post({action: "mode", mode: "follow"}),
                       "every student's view follows yours, locked"),
        free: button(levers, "Free", "cx-class-free-mode",
                     () => this.post({action: "mode", mode: "free"}),
                     "students explore on their own; you see how many are on which layer"),
        pause: button(levers, "Pause", "cx-class-pause",
                      () => this.post({action: "mode", mode: "pause",
                                       message: this.pauseText.value.trim() || PAUSE_TEXT}),
                      "every student's view freezes with your message"),
      };
      this.pauseText = el("input", "cx-class-pause-text", a, "cx-class-pause-text");
      this.pauseText.type = "text";
      this.pauseText.maxLength = 200;
      this.pauseText.placeholder = PAUSE_TEXT;
      this.pauseText.setAttribute("aria-label", "pause message");
      const ask = el("span", "cx-class-ask", a);
      if (this.view.canPredict) {  // shown while the scene allows predicting (askable())
        this.askCellBtn = button(ask, "Ask: this cell", "cx-class-ask-cell",
                                 () => this.askCell(), "students predict the current output " +
                                 "cell; it is hidden until you reveal it");
        this.askCellBtn.hidden = !this.askable();
      }
      button(ask, "Ask: output size", "cx-class-ask-shape", () => this.askShape(),
             "students give the output's size; the output is hidden until you reveal it");
      button(a, "End class", "cx-class-end", () => {
        if (window.confirm(`End class ${this.code} for every student?`)) {
          this.post({action: "end"});
        }
      });
    } else {
      this.exploreBtn = button(a, "Explore freely", "cx-class-explore", () => {
        if (this.exploring) this.snapBack();
        else this.explore();
      });
    }
  }

  setStatus(status, why = "") {
    if (this.status === status && !why) return;
    this.status = status;
    this.view.root.dataset.classStatus = status;
    this.drawStatus();
    if (why) this.say(why);
  }

  say(text) {
    this.message.textContent = text || "";
    this.message.style.display = text ? "" : "none";
  }

  drawStatus() {
    const s = this.state;
    const live = this.status === "live" ? "\u25cf" : "\u25cb";
    let text = `${live} Class ${this.code}`;
    if (this.ended) {
      text += " \u2014 ended";
    } else if (this.status !== "live") {
      text += this.status === "connecting" ? " \u2014 connecting\u2026" : " \u2014 reconnecting\u2026";
    } else if (this.role === "teacher") {
      const n = this.presence;
      text += " \u2014 you drive it";
      if (n) text += ` \u00b7 ${n.students} student${n.students === 1 ? "" : "s"}, ${n.following} following`;
    } else if (s && !s.page) {
      text += " \u2014 waiting for the teacher";
    } else if (s && s.mode === "free") {
      text += this.exploring ? " \u2014 exploring on your own" : " \u2014 free: explore when you like";
    } else if (s) {
      text += s.mode === "pause" ? " \u2014 paused" : " \u2014 following the teacher";
    }
    this.statusText.textContent = text;
    this.panel.dataset.mode = s ? s.mode : "";
    if (this.levers && s) {
      for (const [mode, b] of Object.entries(this.levers)) {
        b.classList.toggle("cx-active", s.mode === mode);
        b.setAttribute("aria-pressed", String(s.mode === mode));
      }
    }
    if (this.exploreBtn) {
      const free = !!s && s.mode === "free" && !this.ended;
      this.exploreBtn.style.display = free ? "" : "none";
      this.exploreBtn.textContent = this.exploring ? "Snap back to the teacher" : "Explore freely";
    }
    this.drawFree();
  }

  // The teacher, in free mode: how many students are on which configuration.
  drawFree() {
    const box = this.freeBox;
    const n = this.presence;
    const show = this.role === "teacher" && n && this.state && this.state.mode === "free";
    box.style.display = show ? "" : "none";
    if (!show) return;
    const rows = n.free.slice(0, 6).map((c) => `${c.query ? c.query.slice(0, 48) : c.page} \u00d7 ${c.count}`);
    box.textContent = n.free.length ? `Exploring: ${rows.join(" \u00b7 ")}` +
      (n.free.length > 6 ? ` \u00b7 \u2026 ${n.free.length - 6} more` : "") :
      "Nobody is exploring yet.";
  }

  drawPause() {
    const s = this.state;
    const paused = this.role === "student" && s && s.mode === "pause" && !this.ended;
    if (!paused) {
      if (this.overlay) this.overlay.remove();
      this.overlay = null;
      return;
    }
    if (!this.overlay) {
      this.overlay = el("div", "cx-class-overlay", document.body, "cx-class-paused");
      this.overlay.setAttribute("role", "alertdialog");
      this.overlay.setAttribute("aria-modal", "true");
      el("div", "cx-class-overlay-text", this.overlay);
      el("div", "cx-class-overlay-note", this.overlay, "",
         `Class ${this.code}: the teacher paused every view.`);
    }
    this.overlay.firstChild.textContent = s.message || PAUSE_TEXT;
  }

  showJoin() {
    if (this.joinBox) {
      this.joinBox.remove();
      this.joinBox = null;
      return;
    }
    const box = el("div", "cx-class-join", document.body, "cx-class-join");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", `join class ${this.code}`);
    el("div", "cx-class-join-title", box, "", "Join the class");
    el("div", "cx-class-join-code", box, "cx-class-join-code", this.code);
    if (this.data.qr) {
      const qr = el("div", "cx-class-join-qr", box);
      qr.innerHTML = this.data.qr;  // segno's SVG, made by the page (app/live/section.py)
    }
    el("div", "cx-class-join-link", box, "", this.data.join || "");
    const close = button(box, "Close", "cx-class-join-close", () => this.showJoin());
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.showJoin();
    });
    this.joinBox = box;
    close.focus();
  }

  // The open question: hidden answers in the view (a cell value: predict mode from that cell
  // on; a size: the output and what tells it).
  hideAnswer() {
    const v = this.view;
    const q = this.state && this.state.question;
    const open = !!q && q.open && !this.ended;
    v.root.dataset.classQuestion = open ? q.kind : "";
    const predict = open && q.kind === "cell" && this.askable();
    if (predict && !this.predicting) {
      this.predictWas = !!v.predict;
      this.predicting = true;
      v.predict = true;
      v.answers = new Map();
    } else if (!predict && this.predicting) {
      this.predicting = false;
      v.predict = this.predictWas;
    } else {
      return;
    }
    if (v.scene) {
      if (v.syncBar) v.syncBar();
      v.render();
    }
  }

  drawQuestion() {
    const box = this.questionBox;
    const s = this.state;
    const q = s && s.question;
    box.replaceChildren();
    box.style.display = q && !this.ended ? "" : "none";
    this.drawShown();
    if (!q || this.ended) return;
    const result = q.result;
    el("span", "cx-class-prompt", box, "cx-class-prompt",
       `Question ${q.id}: ${q.prompt || (q.kind === "shape" ? "the output's size?" : "a cell's value?")}`);
    if (this.role === "teacher") {
      const a = this.answersSeen && this.answersSeen.question === q.id ? this.answersSeen : null;
      const count = a ? a.count : 0;
      const right = a && a.right !== null ? ` \u00b7 ${Math.round(a.right * 100)} % right` : "";
      el("span", "cx-class-count", box, "cx-class-count",
         `${count} answer${count === 1 ? "" : "s"}${right}`);
      if (q.open) button(box, "Reveal", "cx-class-reveal", () => this.post({action: "reveal"}));
      if (s.shown) button(box, "Hide shown answer", "cx-class-hide", () => this.post({action: "show", value: null}));
      this.histogram(box, a ? a.histogram : [], true, a ? a.answer : null);
      return;
    }
    if (q.open) {
      const form = el("span", "cx-class-answer", box);
      this.answerBox = el("input", "", form, "cx-class-answer");
      this.answerBox.type = "text";
      this.answerBox.maxLength = 64;
      this.answerBox.inputMode = q.kind === "cell" ? "decimal" : "text";
      this.answerBox.placeholder = q.kind === "cell" ? "a number" : "e.g. 7x7";
      this.answerBox.setAttribute("aria-label", "your answer");
      this.answerBox.addEventListener("keydown", (e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          this.sendAnswer();
        }
      });
      button(form, "Send", "cx-class-send", () => this.sendAnswer());
      const mine = this.myAnswer && this.myAnswer.question === q.id ? this.myAnswer.value : null;
      this.answerNote = el("span", "cx-class-note", form, "cx-class-sent",
                           mine ? `sent: ${mine} (you may change it until the reveal)` : "");
      return;
    }
    if (result) {
      const mine = this.myAnswer && this.myAnswer.question === q.id ? this.myAnswer.value : null;
      const bar = result.histogram.find((b) => b.value === mine);
      el("span", "cx-class-result", box, "cx-class-result",
         `Answer: ${result.answer} \u00b7 ${result.count} answered` +
         (result.right !== null ? `, ${Math.round(result.right * 100)} % right` : "") +
         (mine ? ` \u00b7 you: ${mine} ${bar && bar.right ? "\u2713" : "\u2717"}` : ""));
      this.histogram(box, result.histogram, false, result.answer);
    }
  }

  histogram(box, bars, teacher, answer) {
    const list = el("div", "cx-class-bars", box, "cx-class-histogram");
    const most = Math.max(1, ...bars.map((b) => b.count));
    for (const b of bars.slice(0, 12)) {
      const row = el("div", "cx-class-bar", list);
      row.dataset.value = b.value;
      row.dataset.count = String(b.count);
      el("span", "cx-class-bar-value", row, "", b.value);
      const track = el("span", "cx-class-bar-track", row);
      const fill = el("span", `cx-class-bar-fill${b.right ? " cx-right" : ""}`, track);
      fill.style.width = `${(100 * b.count) / most}%`;
      el("span", "cx-class-bar-count", row, "", `${b.count}${b.right ? " \u2713" : ""}`);
      if (teacher) {
        button(row, "show", "cx-class-show", () => this.post({action: "show", value: b.value}),
               "show this answer on every screen, without who gave it");
      }
    }
    if (bars.length > 12) el("div", "cx-class-note", list, "", `\u2026 ${bars.length - 12} more`);
    if (!bars.length) el("div", "cx-class-note", list, "", teacher ? "No answers yet." : "");
    list.dataset.answer = answer || "";
  }

  drawShown() {
    const s = this.state;
    const shown = s && s.shown && !this.ended ? s.shown : null;
    this.shownBox.style.display = shown ? "" : "none";
    this.shownBox.textContent = shown ? `An answer from the class: ${shown.value}` : "";
  }

  // ------------------------------------------------------------------ the end

  refused(why) {  // a token that does not drive this class: follow as a student
    remember(this.code, {token: null});
    this.token = null;
    this.role = "student";
    this.sent = null;
    this.buildActions();
    this.say(`${why || "teacher token refused"} \u2014 you follow as a student.`);
  }

  gone(why) {
    this.finish(why || "The class is gone.");
  }

  finish(text) {
    this.ended = true;
    if (this.abort) this.abort.abort();
    remember(this.code, null);
    this.exploring = false;
    this.lock(false);
    this.drawPause();
    this.hideAnswer();
    this.drawStatus();
    this.drawQuestion();
    this.view.root.dataset.classStatus = "ended";
    this.say(`${text} Your view is yours again.`);
  }
}

CLASS.attach = (view, data, page) => {
  const link = view.classLink;
  if (link && (!data || link.code !== data.code || (data.token && link.role !== "teacher"))) {
    link.close();
  }
  if (!data) return;
  if (view.classLink) view.classLink.update(data);
  else if (!data.token && reclaim(data.code)) return;  // the page is being replaced
  else view.classLink = new ClassLink(view, data, page);
};
