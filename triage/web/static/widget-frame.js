// The support chat inside the widget's iframe (templates/widget.html). Talks to /v1/widget/{key}/… on this
// origin with the customer's session token (X-Widget-Session), kept in localStorage so a returning customer
// sees the conversation again. Text from the server or the customer is only ever set with textContent.
(function () {
  "use strict";

  const body = document.body;
  const KEY = body.dataset.key || "";
  const SECTION = body.dataset.section || "";
  const PAGE = body.dataset.page || "";
  const LANG = body.dataset.lang === "en" ? "en" : "ko";
  const t = JSON.parse(document.getElementById("widget-strings").textContent);

  const BASE = "/v1/widget/" + encodeURIComponent(KEY);
  const STORE_KEY = "triage-widget:" + KEY;
  const POLL_WAIT = 25;        // seconds the server may hold a long poll
  const RETRY_MS = 3000;       // pause after a failed poll
  const MIN_POLL_MS = 1000;    // never poll faster than this when nothing came back
  const ROLES = ["customer", "bot", "agent", "system"];
  const SPEAKERS = { customer: t.you_label, bot: t.bot_label, agent: t.agent_label, system: t.system_label };

  const $ = (id) => document.getElementById(id);
  const transcript = $("transcript");
  const greeting = $("greeting");
  const quick = $("quick-replies");
  const quickList = $("quick-list");
  const form = $("ask-form");
  const input = $("ask-input");
  const sendButton = $("send-button");
  const agentButton = $("agent-button");
  const stateLine = $("state-line");
  const formStatus = $("form-status");
  const ces = $("ces");
  const cesThanks = $("ces-thanks");

  let state = null;            // "bot" | "agent" | "resolved"
  let lastId = 0;              // highest turn id shown (the long poll's `after`)
  const shown = new Map();     // turn id -> {json, el}
  let menu = [];               // the config's MenuItems
  const branch = [];           // MenuItems pressed from the top (submenus open)
  let busy = false;            // an ask or handoff is on its way
  let pollGen = 0;             // bumping it stops the running poll loop
  let creating = null;         // the session being created
  let cesOpen = false, cesDone = false;

  // --- session token: localStorage, else memory ------------------------------------------------------
  let memoryToken = null;
  function loadToken() {
    try { return window.localStorage.getItem(STORE_KEY) || memoryToken; } catch (e) { return memoryToken; }
  }
  function saveToken(token) {
    memoryToken = token;
    try {
      if (token) window.localStorage.setItem(STORE_KEY, token);
      else window.localStorage.removeItem(STORE_KEY);
    } catch (e) { /* storage blocked: memory only */ }
  }

  // --- API ----------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message || code);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  function retryAfterSeconds(header) {
    if (!header) return 5;
    let seconds = Number(header);
    if (!Number.isFinite(seconds)) seconds = (Date.parse(header) - Date.now()) / 1000; // an HTTP date
    return Number.isFinite(seconds) ? Math.min(Math.max(seconds, 1), 300) : 5;
  }

  async function api(method, path, payload, timeoutMs) {
    const headers = { "Content-Type": "application/json", "Accept": "application/json" };
    const token = loadToken();
    if (token) headers["X-Widget-Session"] = token;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs || 20000);
    try {
      let response;
      try {
        response = await fetch(BASE + path, {
          method: method, headers: headers, cache: "no-store", credentials: "omit", signal: controller.signal,
          body: payload === undefined ? undefined : JSON.stringify(payload)
        });
      } catch (e) {
        throw new ApiError(0, "network", String(e));
      }
      let data = null;
      try { data = await response.json(); } catch (e) { /* empty or not JSON */ }
      if (!response.ok) {
        const err = (data && data.error) || {};
        throw new ApiError(response.status, err.code || "http_" + response.status, err.message || "",
                           retryAfterSeconds(response.headers.get("Retry-After")));
      }
      return data || {};
    } finally {
      clearTimeout(timer);
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Create the session on first need (first ask or handoff).
  function ensureSession() {
    if (loadToken()) return Promise.resolve();
    if (!creating) {
      creating = api("POST", "/sessions", { page: PAGE || null, section: SECTION || null, lang: LANG })
        .then((data) => {
          if (!data.token) throw new ApiError(0, "no_token", "");
          saveToken(data.token);
          startPolling();
        })
        .finally(() => { creating = null; });
    }
    return creating;
  }

  // Run `call` with a session; if the token turned out unknown or expired (401), start over once.
  async function withSession(call) {
    await ensureSession();
    try {
      return await call();
    } catch (e) {
      if (e.status !== 401) throw e;
      resetSession();
      await ensureSession();
      return call();
    }
  }

  // Forget the token and everything shown for it.
  function resetSession() {
    saveToken(null);
    pollGen++;
    shown.forEach((entry) => entry.el.remove());
    shown.clear();
    lastId = 0;
    cesOpen = cesDone = false;
    ces.hidden = true;
    setState("bot");
  }

  // --- text and links -------------------------------------------------------------------------------
  function make(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function httpUrl(url) {
    if (!url) return null;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  // A link opening in a new tab, or null unless the URL is http(s).
  function link(url, label) {
    const href = httpUrl(url);
    if (!href) return null;
    const a = make("a", "", label);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.appendChild(make("span", "sr-only", " (" + t.new_window + ")"));
    return a;
  }

  // Text with its http(s) URLs as links.
  function fillText(el, text, withLinks) {
    text = String(text || "");
    if (!withLinks) { el.textContent = text; return; }
    const pattern = /https?:\/\/[^\s<>"']+/g;
    let at = 0, match;
    while ((match = pattern.exec(text))) {
      const url = match[0].replace(/[.,;:!?)\]}。、]+$/, ""); // trailing punctuation is not part of the URL
      const a = link(url, url);
      if (!a) continue;
      el.appendChild(document.createTextNode(text.slice(at, match.index)));
      el.appendChild(a);
      at = match.index + url.length;
      pattern.lastIndex = at;
    }
    el.appendChild(document.createTextNode(text.slice(at)));
  }

  // --- turns ----------------------------------------------------------------------------------------
  function buildTurn(turn) {
    const role = ROLES.indexOf(turn.role) >= 0 ? turn.role : "system";
    const el = make("div", "turn turn-" + role);
    el.dataset.turnId = String(turn.id);
    el.appendChild(make("span", "sr-only", SPEAKERS[role] + ": "));
    const text = make("p", "turn-text");
    fillText(text, turn.text, role !== "customer");
    el.appendChild(text);
    if (role === "bot") el.appendChild(turn.answered ? answerExtras(turn) : handoffOffer());
    return el;
  }

  // Under an answer: its sources and the "was this helpful?" question (or the thanks once answered).
  function answerExtras(turn) {
    const box = document.createDocumentFragment();
    const sources = (turn.sources || []).filter((s) => s && s.title);
    if (sources.length) {
      const p = make("p", "turn-sources", t.source_label + ": ");
      sources.forEach((source, i) => {
        if (i) p.appendChild(document.createTextNode(", "));
        p.appendChild(link(source.url, source.title) || make("span", "", source.title));
      });
      box.appendChild(p);
    }
    if (turn.helpful === true || turn.helpful === false) {
      const thanks = make("p", "feedback-thanks", t.thanks_feedback);
      thanks.tabIndex = -1;
      box.appendChild(thanks);
      return box;
    }
    const feedback = make("div", "turn-feedback");
    feedback.setAttribute("role", "group");
    const question = make("span", "feedback-question", t.helpful_question);
    question.id = "helpful-q-" + turn.id;
    feedback.setAttribute("aria-labelledby", question.id);
    feedback.appendChild(question);
    [[true, "helpful-yes", t.helpful_yes], [false, "helpful-no", t.helpful_no]].forEach((choice) => {
      const button = make("button", choice[1], choice[2]);
      button.type = "button";
      button.addEventListener("click", () => sendFeedback(turn.id, choice[0], feedback));
      feedback.appendChild(button);
    });
    box.appendChild(feedback);
    return box;
  }

  // Under a turn the bot could not answer: offer a human.
  function handoffOffer() {
    const box = make("div", "turn-handoff");
    box.appendChild(make("p", "handoff-text", t.handoff_offer));
    const button = make("button", "handoff-button", t.agent_button);
    button.type = "button";
    button.addEventListener("click", handoff);
    box.appendChild(button);
    return box;
  }

  // Show a turn once (by id), in id order; a changed turn (e.g. feedback given) is redrawn in place.
  function renderTurn(turn) {
    if (!turn || typeof turn.id !== "number") return null;
    const json = JSON.stringify(turn);
    const old = shown.get(turn.id);
    if (old && old.json === json) return old.el;
    const el = buildTurn(turn);
    if (old) {
      old.el.replaceWith(el);
    } else {
      let before = null;
      shown.forEach((entry, id) => { if (id > turn.id && (!before || id < Number(before.dataset.turnId))) before = entry.el; });
      transcript.insertBefore(el, before);
      transcript.scrollTop = transcript.scrollHeight;
    }
    shown.set(turn.id, { json: json, el: el });
    lastId = Math.max(lastId, turn.id);
    return el;
  }

  function renderTurns(turns) {
    (turns || []).forEach(renderTurn);
  }

  function applySession(session) {
    renderTurns(session.turns);
    setState(session.state);
    applyCes(session.ces);
  }

  // --- state, status lines ----------------------------------------------------------------------------
  function setState(next) {
    if (!next || next === state) return;
    state = next;
    body.dataset.state = next;
    agentButton.hidden = next === "agent";
    stateLine.textContent = next === "agent" ? t.handed_off : next === "resolved" ? t.resolved : "";
    renderMenu(false);
  }

  function say(message) {
    if (formStatus.textContent !== message) formStatus.textContent = message;
  }

  function sayError(error) {
    say(error && error.status === 429 ? t.rate_limited : t.error);
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    form.setAttribute("aria-busy", value ? "true" : "false");
  }

  function focusInput() {
    input.focus();
  }

  // --- quick replies (the config's menu) --------------------------------------------------------------
  function path() {
    return branch.map((item) => item.label);
  }

  function renderMenu(focusFirst) {
    const items = branch.length ? branch[branch.length - 1].children : menu;
    quickList.textContent = "";
    if (state !== "bot" || !menu.length) {
      quick.hidden = true;
      return;
    }
    quick.hidden = false;
    if (branch.length) {
      const back = make("button", "quick-back", t.back);
      back.type = "button";
      back.addEventListener("click", () => { branch.pop(); renderMenu(true); });
      quickList.appendChild(back);
    }
    (items || []).forEach((item) => {
      if (!item || !item.label) return;
      const hasChildren = Array.isArray(item.children) && item.children.length > 0;
      if (!hasChildren && !item.ask) return;
      const button = make("button", "quick-reply" + (hasChildren ? " has-children" : ""), item.label);
      button.type = "button";
      button.addEventListener("click", () => {
        if (hasChildren) {
          branch.push(item);
          renderMenu(true);
        } else {
          send(item.ask, path().concat(item.label), false);
        }
      });
      quickList.appendChild(button);
    });
    const first = quickList.querySelector(".quick-reply") || quickList.querySelector("button");
    if (focusFirst && first) first.focus();
  }

  // --- actions ----------------------------------------------------------------------------------------
  async function send(text, askPath, fromInput) {
    text = String(text || "").trim();
    if (!text || busy) return;
    setBusy(true);
    say(t.sending);
    try {
      const data = await withSession(() => api("POST", "/ask", { text: text, path: askPath }));
      if (fromInput && input.value.trim() === text) input.value = "";
      renderTurns(data.turns);
      setState(data.state);
      say("");
    } catch (e) {
      sayError(e); // the typed text stays in the box
    } finally {
      setBusy(false);
    }
  }

  async function handoff() {
    if (busy) return;
    setBusy(true);
    say(t.sending);
    try {
      applySession(await withSession(() => api("POST", "/handoff", {})));
      say("");
      focusInput(); // the pressed button is hidden now
    } catch (e) {
      sayError(e);
    } finally {
      setBusy(false);
    }
  }

  async function sendFeedback(turnId, helpful, box) {
    const buttons = box.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const el = renderTurn(await api("POST", "/turns/" + turnId + "/feedback", { helpful: helpful }));
      const thanks = el && el.querySelector(".feedback-thanks");
      if (thanks) thanks.focus();
      say("");
    } catch (e) {
      buttons.forEach((b) => { b.disabled = false; });
      sayError(e);
    }
  }

  // --- CES survey -----------------------------------------------------------------------------------------
  function applyCes(info) {
    if (!info || cesDone) return;
    if (info.asked && info.score == null) {
      if (cesOpen) return;
      cesOpen = true;
      ces.hidden = false;
      transcript.scrollTop = transcript.scrollHeight;
      // only take focus when the customer is in the chat, never from the host page
      if (document.hasFocus()) ces.querySelector("button.ces-score").focus();
    } else if (info.score != null && cesOpen) {
      finishCes(false); // answered in another tab
    }
  }

  function finishCes(focus) {
    cesDone = true;
    $("ces-scale").hidden = true;
    $("ces-ends").hidden = true;
    cesThanks.textContent = t.ces_thanks;
    if (focus) cesThanks.focus();
  }

  ces.querySelectorAll("button.ces-score").forEach((button) => {
    button.addEventListener("click", async () => {
      const buttons = ces.querySelectorAll("button.ces-score");
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await api("POST", "/ces", { score: Number(button.dataset.score) });
        finishCes(true);
      } catch (e) {
        if (e.status === 409) { finishCes(true); return; } // already answered
        buttons.forEach((b) => { b.disabled = false; });
        sayError(e);
      }
    });
  });

  // --- long poll: agents' replies, resolution, CES ---------------------------------------------------------
  function startPolling() {
    const gen = ++pollGen;
    (async () => {
      while (gen === pollGen && loadToken()) {
        const started = Date.now();
        try {
          const data = await api("GET", "/turns?after=" + lastId + "&wait=" + POLL_WAIT, undefined,
                                 (POLL_WAIT + 15) * 1000);
          if (gen !== pollGen) return;
          renderTurns(data.turns);
          setState(data.state);
          applyCes(data.ces);
          const elapsed = Date.now() - started;
          if (!(data.turns && data.turns.length) && elapsed < MIN_POLL_MS) await sleep(MIN_POLL_MS - elapsed);
        } catch (e) {
          if (gen !== pollGen) return;
          if (e.status === 401) { resetSession(); return; }
          await sleep(e.status === 429 ? e.retryAfter * 1000 : RETRY_MS);
        }
      }
    })();
  }

  // --- talking to the host page ----------------------------------------------------------------------------
  let parentOrigin = null;
  try { if (document.referrer) parentOrigin = new URL(document.referrer).origin; } catch (e) { /* no referrer */ }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data || event.data.type !== "triage-widget:open") return;
    if (event.origin && event.origin !== "null") parentOrigin = event.origin; // the loader's own origin
    focusInput();
  });

  // The message carries no data, so "*" is harmless when the host's origin is unknown.
  function requestClose() {
    if (window.parent === window) return;
    window.parent.postMessage({ type: "triage-widget:close" }, parentOrigin || "*");
  }

  // --- wiring -------------------------------------------------------------------------------------------------
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(input.value, path(), true);
  });

  input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; not while the Korean IME is composing a syllable
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      send(input.value, path(), true);
    }
  });

  document.addEventListener("keydown", (event) => {
    if ((event.key === "Escape" || event.key === "Esc") && !event.isComposing) requestClose();
  });

  $("close-button").addEventListener("click", requestClose);
  agentButton.addEventListener("click", handoff);

  // --- start --------------------------------------------------------------------------------------------------
  async function loadConfig() {
    let text = t.greeting;
    try {
      const config = await api("GET", "/config?section=" + encodeURIComponent(SECTION) + "&lang=" + LANG);
      if (config.greeting) text = config.greeting;
      menu = Array.isArray(config.menu) ? config.menu : [];
    } catch (e) {
      menu = [];
    }
    fillText($("greeting-text"), text, true);
    greeting.hidden = false;
    renderMenu(false);
  }

  async function loadSession() {
    if (!loadToken()) return;
    try {
      applySession(await api("GET", "/session"));
      startPolling();
    } catch (e) {
      if (e.status === 401) resetSession(); // unknown or expired: start fresh
      else startPolling();                  // the poll (after=0) brings the turns back once reachable
    }
  }

  setState("bot");
  loadConfig();
  loadSession();
})();
