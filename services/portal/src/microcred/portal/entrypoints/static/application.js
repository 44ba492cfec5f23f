// The application page's two jobs that need a script: answers saved as they are typed, and uploads that go
// straight from the browser to the object store with a progress bar. Without it, the answers' form still posts.
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

  // -- uploads -------------------------------------------------------------------------------------------
  function putBytes(url, blob, onProgress) {
    return new Promise(function (resolve, reject) {
      var request = new XMLHttpRequest();
      request.open("PUT", url);
      request.upload.onprogress = function (event) { if (event.lengthComputable) { onProgress(event.loaded); } };
      request.onload = function () {
        if (request.status >= 200 && request.status < 300) { resolve(); }
        else { reject(new Error("the evidence store refused the file (" + request.status + ")")); }
      };
      request.onerror = function () { reject(new Error("the evidence store could not be reached")); };
      request.send(blob);
    });
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function facts(evidence) {
    var parts = [evidence.filename + ": verified", (evidence.size_bytes / 1024).toFixed(1) + " KB", evidence.content_type];
    if (evidence.duration_seconds) { parts.push(evidence.duration_seconds.toFixed(1) + " seconds long"); }
    return parts.join(", ") + ".";
  }

  async function upload(key) {
    var input = document.getElementById("upload-" + key);
    var bar = document.getElementById("progress-" + key);
    var said = document.getElementById("upload-" + key + "-status");
    var file = input.files[0];
    if (!file) { said.textContent = "Choose a file first."; input.focus(); return; }
    bar.value = 0;
    said.textContent = "Checking " + file.name + "…";
    var digest = hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    var ticket = await post("/evidence", { requirement_key: key, filename: file.name,
      content_type: file.type || "application/octet-stream", size_bytes: String(file.size), sha256: digest });
    if (!ticket.ok) { said.textContent = "Not uploaded: " + ticket.reason; return; }
    said.textContent = "Uploading " + file.name + "…";
    var upload = ticket.upload;
    try {
      if (upload.mode === "single") {
        await putBytes(upload.url, file, function (sent) { bar.value = Math.round(100 * sent / file.size); });
      } else {
        var done = 0;
        for (var i = 0; i < upload.parts.length; i++) {
          var part = upload.parts[i];
          var start = (part.part_number - 1) * upload.part_size;
          var piece = file.slice(start, Math.min(file.size, start + upload.part_size));
          await putBytes(part.url, piece, function (sent) { bar.value = Math.round(100 * (done + sent) / file.size); });
          done += piece.size;
        }
      }
    } catch (error) {
      said.textContent = "Not uploaded: " + error.message + ". Try again.";
      return;
    }
    bar.value = 100;
    said.textContent = "Uploaded. Verifying " + file.name + "…";
    var checked = await post("/evidence/" + ticket.evidence_id + "/complete", {});
    if (!checked.ok) { said.textContent = "Not accepted: " + checked.reason; return; }
    said.textContent = facts(checked);
    var list = document.querySelector("[data-files='" + key + "']");
    if (list.tagName !== "UL") {
      var fresh = document.createElement("ul");
      fresh.className = "files";
      fresh.dataset.files = key;
      list.replaceWith(fresh);
      list = fresh;
    }
    var item = document.createElement("li");
    item.textContent = facts(checked);
    list.appendChild(item);
    input.value = "";
  }

  document.querySelectorAll("[data-upload]").forEach(function (box) { box.hidden = false; });
  document.querySelectorAll("[data-without-script]").forEach(function (note) { note.remove(); });
  document.querySelectorAll("[data-upload-button]").forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.dataset.uploadButton;
      button.disabled = true;
      upload(key).catch(function (error) {
        document.getElementById("upload-" + key + "-status").textContent = "Not uploaded: " + error.message;
      }).finally(function () { button.disabled = false; });
    });
  });
}());
