// Support chat loader: a company adds ONE script tag to its site,
//   <script src="https://HOST/static/widget.js" data-key="wk_..." data-section="delivery" defer></script>
// and gets a launcher button bottom-right that opens the chat (an iframe served by HOST).
// Styles are set through element.style (CSSOM), so host pages that forbid inline style attributes still work.
// The only global is window.TriageWidget = {open, close}.
(function () {
  "use strict";

  if (window.TriageWidget) return; // the tag was added twice

  var SCRIPT_PATH = "/static/widget.js";
  var NARROW = "(max-width: 479px)"; // below 480 px the chat fills the screen
  var Z = "2147483000";

  var TEXT = {
    ko: { launcher: "문의하기", launcherLabel: "문의하기 (고객센터 채팅)", title: "고객센터 채팅" },
    en: { launcher: "Chat with us", launcherLabel: "Chat with us (support chat)", title: "Support chat" }
  };

  // --- our own script tag ---------------------------------------------------------------------------
  function ownScript() {
    if (document.currentScript && document.currentScript.src) return document.currentScript;
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      var src = (scripts[i].src || "").split(/[?#]/)[0];
      if (src.slice(-SCRIPT_PATH.length) === SCRIPT_PATH) return scripts[i];
    }
    return null;
  }

  var script = ownScript();
  if (!script) {
    console.error("[TriageWidget] Could not find the widget's <script> tag (src ending in " + SCRIPT_PATH + ").");
    return;
  }
  var key = script.getAttribute("data-key");
  if (!key) {
    console.error('[TriageWidget] The <script> tag needs a data-key attribute, e.g. data-key="wk_...". ' +
                  "The chat is not shown.");
    return;
  }
  var host = new URL(script.src, location.href).origin;
  var section = script.getAttribute("data-section") || "";
  var lang = script.getAttribute("data-lang");
  if (lang !== "ko" && lang !== "en") lang = /^en/i.test(navigator.language || "") ? "en" : "ko";
  var text = TEXT[lang];

  var launcher, frame, frameLoaded = false, isOpen = false, narrow = window.matchMedia(NARROW);

  function css(el, styles) {
    for (var name in styles) if (Object.prototype.hasOwnProperty.call(styles, name)) el.style[name] = styles[name];
  }

  // --- elements ---------------------------------------------------------------------------------------
  function build() {
    launcher = document.createElement("button");
    launcher.type = "button";
    launcher.id = "triage-widget-launcher";
    launcher.lang = lang;
    launcher.textContent = text.launcher;
    launcher.setAttribute("aria-label", text.launcherLabel);
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "triage-widget-frame");
    css(launcher, {
      position: "fixed", right: "20px", bottom: "20px", zIndex: Z, margin: "0",
      padding: "12px 20px", minHeight: "48px", border: "0", borderRadius: "999px",
      background: "#1f5fbf", color: "#ffffff", cursor: "pointer",
      font: '600 15px/1.2 system-ui, "Noto Sans KR", "NanumGothic", sans-serif',
      boxShadow: "0 4px 14px rgba(0, 0, 0, 0.25)", outlineOffset: "3px"
    });
    launcher.addEventListener("click", function () { if (isOpen) close(); else open(); });

    frame = document.createElement("iframe");
    frame.id = "triage-widget-frame";
    frame.title = text.title;
    frame.referrerPolicy = "origin"; // the frame learns our origin (for postMessage), not the page's path
    frame.src = host + "/widget/frame?key=" + encodeURIComponent(key) +
      "&section=" + encodeURIComponent(section) + "&lang=" + encodeURIComponent(lang) +
      "&page=" + encodeURIComponent(location.pathname + location.search);
    css(frame, {
      display: "none", position: "fixed", zIndex: Z, border: "0", margin: "0", padding: "0",
      background: "#ffffff", colorScheme: "light", boxShadow: "0 8px 30px rgba(0, 0, 0, 0.3)"
    });
    frame.addEventListener("load", function () {
      frameLoaded = true;
      if (isOpen) tellFrameOpened(); // opened before the frame was ready
    });

    layout();
    document.body.appendChild(frame);
    document.body.appendChild(launcher);
  }

  // Panel bottom-right on wide screens; the whole viewport on narrow ones.
  function layout() {
    if (!frame) return;
    if (narrow.matches || window.innerWidth < 480) {
      css(frame, { top: "0", left: "0", right: "0", bottom: "0", width: "100%", height: "100%",
                   maxWidth: "none", maxHeight: "none", borderRadius: "0", zIndex: "2147483001" });
      frame.style.height = "100dvh"; // ignored where unsupported (100% stays)
    } else {
      css(frame, { top: "auto", left: "auto", right: "20px", bottom: "84px", width: "380px", height: "600px",
                   maxWidth: "calc(100vw - 40px)", maxHeight: "calc(100vh - 104px)", borderRadius: "12px",
                   zIndex: Z });
    }
  }

  // --- open / close -----------------------------------------------------------------------------------
  function tellFrameOpened() {
    frame.focus();
    frame.contentWindow.postMessage({ type: "triage-widget:open" }, host);
  }

  function open() {
    if (!frame || isOpen) return;
    isOpen = true;
    frame.style.display = "block";
    launcher.setAttribute("aria-expanded", "true");
    if (frameLoaded) tellFrameOpened();
  }

  function close(returnFocus) {
    if (!frame || !isOpen) return;
    var focusWasInside = document.activeElement === frame;
    isOpen = false;
    frame.style.display = "none";
    launcher.setAttribute("aria-expanded", "false");
    if (returnFocus || focusWasInside) launcher.focus();
  }

  // The frame asks to be closed (its close button or Escape inside it).
  window.addEventListener("message", function (event) {
    if (event.origin !== host || !frame || event.source !== frame.contentWindow) return;
    if (event.data && event.data.type === "triage-widget:close") close(true);
  });

  // Escape on the host page.
  document.addEventListener("keydown", function (event) {
    if (isOpen && !event.defaultPrevented && (event.key === "Escape" || event.key === "Esc")) close(true);
  });

  if (narrow.addEventListener) narrow.addEventListener("change", layout);
  else if (narrow.addListener) narrow.addListener(layout);
  window.addEventListener("resize", layout);

  if (document.body) build();
  else document.addEventListener("DOMContentLoaded", build);

  window.TriageWidget = {
    open: open,
    close: function () { close(false); }
  };
})();
