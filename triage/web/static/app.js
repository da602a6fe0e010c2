// Keyboard shortcuts for the agents' pages (no framework, no build step).
// Inbox: j/k select, Enter opens, ? help. Conversation: a accept, e edit the draft, Ctrl+Enter send the edit,
// r reject (asks first), t tag select, Esc/u back to the inbox, ? help. While typing in a field only
// Ctrl+Enter and Esc work (Esc leaves the field). Letters are matched by physical key too, so the shortcuts
// also work with the Korean input method switched on (which reports "ㅓ" for j).
(function () {
  "use strict";

  var page = document.body.dataset.page;
  var help = document.getElementById("help");

  function typing(el) {
    return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function letter(ev) {
    if (ev.key && ev.key.length === 1 && /[a-z]/i.test(ev.key)) return ev.key.toLowerCase();
    if (ev.code && /^Key[A-Z]$/.test(ev.code)) return ev.code.slice(3).toLowerCase();
    return ev.key;
  }

  function showHelp(show) {
    if (!help) return;
    // closing: let go of the close button at once, or a following Enter would go to a hidden button
    if (!show && help.contains(document.activeElement)) document.activeElement.blur();
    help.hidden = !show;
    if (show) help.querySelector("button").focus();
  }
  if (help) {
    help.querySelector(".close-help").addEventListener("click", function () { showHelp(false); });
    help.addEventListener("click", function (ev) { if (ev.target === help) showHelp(false); });
  }

  // --- inbox -----------------------------------------------------------------------------------------------
  function inbox() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#inbox tbody tr[data-href]"));
    var index = -1;

    function select(i) {
      if (!rows.length) return;
      if (index >= 0) { rows[index].classList.remove("selected"); rows[index].removeAttribute("aria-selected"); }
      index = Math.max(0, Math.min(i, rows.length - 1));
      rows[index].classList.add("selected");
      rows[index].setAttribute("aria-selected", "true");
      rows[index].scrollIntoView({ block: "nearest" });
    }

    rows.forEach(function (row) {
      row.addEventListener("click", function (ev) {
        if (ev.target.closest("a")) return; // the link itself navigates
        window.location.href = row.dataset.href;
      });
    });

    return {
      key: function (k) {
        if (k === "j") { select(index + 1); return true; }
        if (k === "k") { select(index < 0 ? 0 : index - 1); return true; }
        if (k === "Enter" && index >= 0) { window.location.href = rows[index].dataset.href; return true; }
        return false;
      },
      escape: function () { return false; },
    };
  }

  // --- conversation ----------------------------------------------------------------------------------------
  function conversation() {
    var form = document.getElementById("verdict");
    var draft = document.getElementById("draft");
    var tag = document.getElementById("tag-select");
    var original = draft ? draft.value : "";
    var submitting = false;

    if (form) {
      form.addEventListener("submit", function (ev) {
        if (submitting) { ev.preventDefault(); return; } // one verdict per page (the server also dedupes)
        var action = ev.submitter ? ev.submitter.value : "";
        if (action === "reject" && !window.confirm(form.dataset.confirmReject)) { ev.preventDefault(); return; }
        submitting = true; // buttons stay enabled: a disabled submitter would drop its "action" value
        form.classList.add("submitting");
      });
    }

    function press(action) {
      if (!form) return false;
      var button = form.querySelector('button[name="action"][value="' + action + '"]');
      if (!button) return false;
      form.requestSubmit(button);
      return true;
    }

    function back() {
      if (draft && draft.value !== original && !submitting && !window.confirm(form.dataset.confirmLeave)) return;
      window.location.href = "/inbox";
    }

    return {
      key: function (k) {
        if (k === "a") return press("accept");
        if (k === "r") return press("reject");
        if (k === "e" && draft) {
          draft.focus();
          draft.setSelectionRange(draft.value.length, draft.value.length);
          return true;
        }
        if (k === "t" && tag && !tag.disabled) { tag.focus(); return true; }
        if (k === "u") { back(); return true; }
        return false;
      },
      send: function () { return press("edit"); },
      escape: function () { back(); return true; },
    };
  }

  var here = page === "inbox" ? inbox() : page === "conversation" ? conversation() : null;

  document.addEventListener("keydown", function (ev) {
    if (ev.defaultPrevented || ev.isComposing || ev.keyCode === 229) return; // mid-composition (Korean IME)
    var inField = typing(ev.target);
    if (ev.key === "Escape") {
      if (help && !help.hidden) { showHelp(false); ev.preventDefault(); return; }
      if (inField) { ev.target.blur(); ev.preventDefault(); return; }
      if (here && here.escape()) ev.preventDefault();
      return;
    }
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      if (here && here.send && here.send()) ev.preventDefault();
      return;
    }
    if (inField || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Enter" && ev.target.closest && ev.target.closest("a, button")) return; // their own Enter
    if (help && !help.hidden) return;
    if (ev.key === "?") { showHelp(true); ev.preventDefault(); return; }
    if (here && here.key(ev.key === "Enter" ? "Enter" : letter(ev))) ev.preventDefault();
  });
})();
