// Review page shortcuts: Alt+Shift+N / Alt+Shift+P move to the next / previous rubric criterion (its chosen level,
// or its first). Both modifiers are required, so a screen reader's or speech user's single keys never trigger them
// (WCAG 2.1.4), and the "Keyboard shortcuts on" box turns them off for anyone whose tools still clash; the choice
// is remembered in this browser. event.code, not event.key: Alt+Shift+letter types other characters on some layouts.
(function () {
  "use strict";
  var form = document.getElementById("score-form");
  var toggle = document.getElementById("shortcuts-on");
  var status = document.getElementById("shortcut-status");
  if (!form || !toggle) { return; }
  var STORE = "microcred-review-shortcuts";
  try { toggle.checked = window.localStorage.getItem(STORE) !== "off"; } catch (e) { /* storage blocked: stay on */ }
  toggle.addEventListener("change", function () {
    try { window.localStorage.setItem(STORE, toggle.checked ? "on" : "off"); } catch (e) { /* not remembered */ }
  });
  var criteria = Array.prototype.slice.call(form.querySelectorAll("fieldset.criterion"));

  function current() {
    for (var i = 0; i < criteria.length; i++) {
      if (criteria[i].contains(document.activeElement)) { return i; }
    }
    return -1;
  }

  function go(step) {
    if (!criteria.length) { return; }
    var at = current();
    var next = at === -1 ? (step > 0 ? 0 : criteria.length - 1) : Math.min(Math.max(at + step, 0), criteria.length - 1);
    var fieldset = criteria[next];
    var target = fieldset.querySelector("input[type=radio]:checked") || fieldset.querySelector("input[type=radio]");
    if (target) {
      target.focus();
      fieldset.scrollIntoView({ block: "start" });
    }
    status.textContent = "Criterion " + (next + 1) + " of " + criteria.length + ": " + fieldset.getAttribute("data-criterion");
  }

  document.addEventListener("keydown", function (event) {
    if (!toggle.checked || !event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) { return; }
    if (event.code === "KeyN") { event.preventDefault(); go(1); }
    else if (event.code === "KeyP") { event.preventDefault(); go(-1); }
  });
})();
