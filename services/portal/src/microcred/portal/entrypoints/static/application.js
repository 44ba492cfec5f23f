// The application page's answers, saved as they are typed (uploads: upload.js). Without it, the answers' form
// still posts.
(function () {
  "use strict";
  var form = document.getElementById("answers");
  if (!form) { return; }
  var base = "/applications/" + form.dataset.submission;
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var status = document.getElementById("save-status");
  var dirty = {};   // field name -> the text not yet saved
  var timer = null;
  var saving = false;

  function post(path, fields) {
    var body = new FormData();
    body.append("csrf_token", csrf);
    Object.keys(fields).forEach(function (name) { body.append(name, fields[name]); });
    return fetch(base + path, { method: "POST", body: body, credentials: "same-origin",
                                headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return { saved: false, reason: "the portal answered " + response.status }; })
          .then(function (answer) { answer.ok = response.ok; return answer; });
      }, function () { return { ok: false, reason: "the portal could not be reached. Check your connection." }; });
  }

  // -- answers -------------------------------------------------------------------------------------------
  function save() {
    timer = null;
    var names = Object.keys(dirty);
    if (!names.length || saving) { return; }
    var sending = {};
    names.forEach(function (name) { sending[name] = dirty[name]; });
    dirty = {};
    saving = true;
    status.textContent = "Saving…";
    post("/answers", sending).then(function (answer) {
      saving = false;
      if (answer.ok && answer.saved) {
        status.textContent = "Saved at " + new Date().toLocaleTimeString() + ".";
        status.classList.remove("save-failed");
      } else {
        // Keep what failed to save, unless newer typing replaced it, and try again with the next change.
        Object.keys(sending).forEach(function (name) { if (!(name in dirty)) { dirty[name] = sending[name]; } });
        status.textContent = "Not saved: " + (answer.reason || "unknown reason") + " Your text is still here.";
        status.classList.add("save-failed");
      }
      if (Object.keys(dirty).length && answer.ok) { schedule(); }
    });
  }
  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 800);
  }
  form.addEventListener("input", function (event) {
    var field = event.target;
    if (field.name && field.name.indexOf("answer-") === 0) {
      dirty[field.name] = field.value;
      status.textContent = "Not saved yet…";
      schedule();
    }
  });
  // Leaving the page with typing not yet saved: send it anyway (a beacon survives the navigation).
  window.addEventListener("pagehide", function () {
    var names = Object.keys(dirty);
    if (!names.length) { return; }
    var body = new FormData();
    body.append("csrf_token", csrf);
    names.forEach(function (name) { body.append(name, dirty[name]); });
    navigator.sendBeacon(base + "/answers", body);
  });
}());
