// Uploads on the application page, straight from the browser to the object store through presigned URLs.
//
// A file up to the service's single-upload size goes in one PUT. A larger one goes in parts (the service decides
// and says so when the file is declared), with Pause and Resume. Resuming survives a page reload: the evidence id
// and what the file was (name, size, last modified, sha256) are kept in localStorage per application and
// requirement. A browser cannot keep the File itself across a reload, so the teacher picks the same file again;
// the script checks name, size and last-modified against what it kept, asks the service which parts the store
// holds (the store's word, not ours), and sends only the rest. The service then checks the whole file's size and
// sha256 when it completes, so a different file with the same name, size and date is still caught there.
// Captions (a WebVTT file, optional, for a video) go up after their video, naming it (captions_for).
(function () {
  "use strict";
  var form = document.getElementById("answers");
  if (!form || !window.MicrocredSha256) { return; }
  var submission = form.dataset.submission;
  var base = "/applications/" + submission;
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var running = {};  // requirement key -> {paused, request} while an upload runs

  function ask(method, path, fields) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method === "POST") {
      var body = new FormData();
      body.append("csrf_token", csrf);
      Object.keys(fields || {}).forEach(function (name) { body.append(name, fields[name]); });
      options.body = body;
    }
    return fetch(base + path, options).then(function (response) {
      return response.json().catch(function () { return { reason: "the portal answered " + response.status }; })
        .then(function (answer) { answer.ok = response.ok; answer.status = response.status; return answer; });
    }, function () { return { ok: false, status: 0, reason: "the portal could not be reached. Check your connection." }; });
  }

  // -- what is remembered across a reload ---------------------------------------------------------------------
  function storeKey(key) { return "microcred.upload." + submission + "." + key; }
  function remembered(key) {
    try { return JSON.parse(localStorage.getItem(storeKey(key)) || "null"); } catch (e) { return null; }
  }
  function remember(key, record) { try { localStorage.setItem(storeKey(key), JSON.stringify(record)); } catch (e) { /* private mode: no resume after reload */ } }
  function forget(key) { try { localStorage.removeItem(storeKey(key)); } catch (e) { /* nothing kept */ } }
  function sameFile(record, file) {
    return record.name === file.name && record.size === file.size && record.lastModified === file.lastModified;
  }

  // -- words --------------------------------------------------------------------------------------------------
  function sizeWords(size) {
    return size >= 1024 * 1024 ? (size / 1024 / 1024).toFixed(1) + " MB" : (size / 1024).toFixed(1) + " KB";
  }
  function facts(evidence) {
    var parts = [evidence.filename + ": verified", sizeWords(evidence.size_bytes), evidence.content_type];
    if (evidence.duration_seconds) { parts.push(evidence.duration_seconds.toFixed(1) + " seconds long"); }
    return parts.join(", ") + ".";
  }

  function box(key) {
    return {
      input: document.getElementById("upload-" + key),
      captions: document.getElementById("captions-" + key),
      bar: document.getElementById("progress-" + key),
      label: document.getElementById("progress-" + key + "-label"),
      said: document.getElementById("upload-" + key + "-status"),
      note: document.getElementById("upload-" + key + "-resume"),
      start: document.querySelector("[data-upload-button='" + key + "']"),
      pause: document.querySelector("[data-pause='" + key + "']"),
      resume: document.querySelector("[data-resume='" + key + "']")
    };
  }

  function showResumeNote(key) {
    var record = remembered(key), b = box(key);
    b.note.hidden = !record;
    b.resume.hidden = !record || Boolean(running[key]);
    if (record) {
      b.note.textContent = "An upload of “" + record.name + "” (" + sizeWords(record.size) + ") was stopped before it " +
        "finished. Your browser cannot keep a file after the page is reloaded or closed, so choose the same file " +
        "again, then press Resume upload: only the parts not yet sent will be uploaded. Choosing another file and " +
        "pressing Upload starts over.";
    }
  }

  // -- sending ------------------------------------------------------------------------------------------------
  function putBytes(key, url, blob, onProgress) {
    return new Promise(function (resolve, reject) {
      var request = new XMLHttpRequest();
      if (running[key]) { running[key].request = request; }
      request.open("PUT", url);
      request.upload.onprogress = function (event) { if (event.lengthComputable) { onProgress(event.loaded); } };
      request.onload = function () {
        if (request.status >= 200 && request.status < 300) { resolve(); }
        else { reject(new Error("the evidence store refused the file (" + request.status + ")")); }
      };
      request.onerror = function () { reject(new Error("the evidence store could not be reached")); };
      request.onabort = function () { reject(new Error("paused")); };
      request.send(blob);
    });
  }

  async function hashOf(b, file) {
    b.label.textContent = "Checking the file before it is sent";
    b.bar.value = 0;
    b.said.textContent = "Checking " + file.name + " (" + sizeWords(file.size) + ")…";
    var digest = await window.MicrocredSha256.ofBlob(file, function (read) {
      b.bar.value = Math.round(100 * read / file.size);
    });
    b.label.textContent = "Upload progress";
    b.bar.value = 0;
    return digest;
  }

  async function declare(key, file, digest, extra) {
    var fields = { requirement_key: key, filename: file.name, content_type: file.type || "application/octet-stream",
                   size_bytes: String(file.size), sha256: digest };
    Object.keys(extra || {}).forEach(function (name) { fields[name] = extra[name]; });
    return ask("POST", "/evidence", fields);
  }

  // The parts in `urls` (part number -> URL), in order; `sent` bytes already in the store before these.
  async function sendParts(key, b, file, record, urls, sent) {
    var numbers = Object.keys(urls).map(Number).sort(function (x, y) { return x - y; });
    for (var i = 0; i < numbers.length; i++) {
      if (running[key].paused) { throw new Error("paused"); }
      var start = (numbers[i] - 1) * record.part_size;
      var piece = file.slice(start, Math.min(file.size, start + record.part_size));
      await putBytes(key, urls[numbers[i]], piece, function (loaded) {
        b.bar.value = Math.round(100 * (sent + loaded) / file.size);
      });
      sent += piece.size;
      b.bar.value = Math.round(100 * sent / file.size);
    }
  }

  function urlsOf(ticket) {
    var urls = {};
    ticket.upload.parts.forEach(function (part) { urls[part.part_number] = part.url; });
    return urls;
  }

  async function finish(key, b, evidenceId, file) {
    b.bar.value = 100;
    b.said.textContent = "Uploaded. Verifying " + file.name + "…";
    var checked = await ask("POST", "/evidence/" + evidenceId + "/complete", {});
    forget(key);  // verified or refused for good: either way there is nothing left to resume
    if (!checked.ok) { b.said.textContent = "Not accepted: " + checked.reason; return null; }
    b.said.textContent = facts(checked);
    return checked;
  }

  async function uploadCaptions(key, b, video) {
    var file = b.captions && b.captions.files[0];
    if (!file) { return null; }
    var digest = await hashOf(b, file);
    var ticket = await declare(key, file, digest, { captions_for: video.evidence_id });
    if (!ticket.ok) { b.said.textContent = facts(video) + " Captions not uploaded: " + ticket.reason; return null; }
    await putBytes(key, ticket.upload.url, file, function (sent) { b.bar.value = Math.round(100 * sent / file.size); });
    var checked = await ask("POST", "/evidence/" + ticket.evidence_id + "/complete", {});
    if (!checked.ok) { b.said.textContent = facts(video) + " Captions not accepted: " + checked.reason; return null; }
    b.said.textContent = facts(video) + " Captions " + file.name + ": verified, WebVTT.";
    return checked;
  }

  function listed(key, video, captions) {
    var list = document.querySelector("[data-files='" + key + "']");
    if (list.tagName !== "UL") {
      var fresh = document.createElement("ul");
      fresh.className = "files";
      fresh.dataset.files = key;
      fresh.setAttribute("aria-labelledby", "files-" + key);
      list.replaceWith(fresh);
      list = fresh;
    }
    var item = document.createElement("li");
    item.textContent = facts(video);
    if (captions) { item.appendChild(document.createElement("br")); item.append("Captions " + captions.filename + ": verified, WebVTT."); }
    if (video.content_type.indexOf("video/") === 0) { item.appendChild(preview(video, captions)); }
    list.appendChild(item);
  }

  // The same player the page renders for a verified video: the file from the store, its captions through the portal.
  function preview(video, captions) {
    var details = document.createElement("details");
    details.className = "preview";
    var summary = document.createElement("summary");
    summary.textContent = "Watch “" + video.filename + "”" + (captions ? " with its captions" : "");
    var player = document.createElement("video");
    player.controls = true;
    player.preload = "metadata";
    player.src = base + "/evidence/" + video.evidence_id + "/file";
    if (captions) {
      var track = document.createElement("track");
      track.kind = "captions";
      track.label = captions.filename;
      track.dataset.captionsLink = base + "/evidence/" + captions.evidence_id + "/link";
      track.default = true;
      player.appendChild(track);
    }
    var hint = document.createElement("p"), download = document.createElement("a");
    hint.className = "hint";
    download.href = player.src;
    download.textContent = "download “" + video.filename + "”";
    hint.append("Not playing? Not every browser plays every format: ", download, ".");
    details.append(summary, player, hint);
    watchPreview(details);
    return details;
  }

  // A <track> takes only a same-origin (or CORS-fetched) source, and the portal reaches no object store: the
  // captions are fetched here from a fresh short-lived URL of the store and given to the track as a blob: URL.
  // Loaded when the preview is opened, so a page with many videos asks for no URL it does not use.
  async function loadTrack(track) {
    delete track.dataset.loading;
    var link = await ask("GET", track.dataset.captionsLink.slice(base.length));
    if (!link.ok) { throw new Error(link.reason); }
    var response = await fetch(link.download_url, { credentials: "omit" });
    if (!response.ok) { throw new Error("the evidence store answered " + response.status); }
    var text = await response.text();
    track.src = URL.createObjectURL(new Blob([text], { type: "text/vtt" }));
  }
  function watchPreview(details) {
    details.addEventListener("toggle", function () {
      if (!details.open) { return; }
      details.querySelectorAll("track[data-captions-link]:not([src])").forEach(function (track) {
        if (track.dataset.loading) { return; }
        track.dataset.loading = "yes";
        loadTrack(track).catch(function (error) {
          delete track.dataset.loading;
          var said = document.createElement("p");
          said.setAttribute("role", "status");
          said.textContent = "The captions could not be loaded: " + error.message + ". Close and open the video again to retry.";
          details.appendChild(said);
        });
      });
    });
  }
  document.querySelectorAll("details.preview").forEach(watchPreview);

  async function done(key, b, video) {
    if (!video) { return; }
    var captions = await uploadCaptions(key, b, video);
    listed(key, video, captions);
    b.input.value = "";
    if (b.captions) { b.captions.value = ""; }
  }

  async function startFresh(key, b, file) {
    var old = remembered(key);
    if (old) {  // another file than the interrupted one: give that one up so it holds no place among the files
      await ask("POST", "/evidence/" + old.evidence_id + "/discard", {});
      forget(key);
    }
    var digest = await hashOf(b, file);
    var ticket = await declare(key, file, digest);
    if (!ticket.ok) { b.said.textContent = "Not uploaded: " + ticket.reason; return; }
    b.said.textContent = "Uploading " + file.name + "…";
    if (ticket.upload.mode === "single") {
      await putBytes(key, ticket.upload.url, file, function (sent) { b.bar.value = Math.round(100 * sent / file.size); });
    } else {
      var record = { evidence_id: ticket.evidence_id, name: file.name, size: file.size, lastModified: file.lastModified,
                     sha256: digest, part_size: ticket.upload.part_size, part_count: ticket.upload.part_count };
      remember(key, record);
      b.pause.hidden = false;
      await sendParts(key, b, file, record, urlsOf(ticket), 0);
    }
    await done(key, b, await finish(key, b, ticket.evidence_id, file));
  }

  async function resume(key, b, file) {
    var record = remembered(key);
    b.said.textContent = "Asking the evidence store which parts of " + file.name + " arrived…";
    var progress = await ask("GET", "/evidence/" + record.evidence_id + "/parts");
    if (!progress.ok) {
      if (progress.status === 409 || progress.status === 404) {  // finished meanwhile, or no longer resumable
        var checked = await ask("POST", "/evidence/" + record.evidence_id + "/complete", {});
        forget(key);
        if (checked.ok) { b.said.textContent = facts(checked); await done(key, b, checked); return; }
        b.said.textContent = "That upload can no longer be resumed (" + (checked.reason || progress.reason) +
          "). Press Upload to send the file again.";
        return;
      }
      throw new Error(progress.reason);
    }
    var sent = progress.uploaded.reduce(function (sum, part) { return sum + part.size; }, 0);
    b.bar.value = Math.round(100 * sent / file.size);
    b.pause.hidden = false;
    if (progress.missing.length) {
      b.said.textContent = "Resuming " + file.name + ": " + progress.uploaded.length + " of " + record.part_count +
        " parts were already sent.";
      var ticket = await ask("POST", "/evidence/" + record.evidence_id + "/parts",
                             { part_numbers: progress.missing.join(",") });
      if (!ticket.ok) { throw new Error(ticket.reason); }
      await sendParts(key, b, file, record, urlsOf(ticket), sent);
    }
    await done(key, b, await finish(key, b, record.evidence_id, file));
  }

  function run(key, action) {
    if (running[key]) { return; }  // one upload at a time per requirement
    var b = box(key);
    var file = b.input.files[0];
    var record = remembered(key);
    if (!file) {
      b.said.textContent = action === "resume" && record
        ? "Choose “" + record.name + "” again first, then press Resume upload."
        : "Choose a file first.";
      b.input.focus();
      return;
    }
    if (action === "resume" && !sameFile(record, file)) {
      b.said.textContent = "“" + file.name + "” is not the file whose upload stopped (“" + record.name + "”, " +
        sizeWords(record.size) + "). Choose that file to resume, or press Upload to send this one instead.";
      return;
    }
    if (action === "start" && record && sameFile(record, file)) { action = "resume"; }
    running[key] = { paused: false, request: null };
    // aria-disabled, not disabled: a disabled button drops the keyboard focus it holds (Pause comes next in order).
    b.start.setAttribute("aria-disabled", "true");
    b.resume.hidden = true;
    b.note.hidden = true;
    var job = action === "resume" ? resume(key, b, file) : startFresh(key, b, file);
    job.catch(function (error) {
      if (error.message === "paused") {
        b.said.textContent = "Paused at " + b.bar.value + "%. Press Resume upload to go on, now or after reloading " +
          "this page.";
      } else {
        b.said.textContent = "Not uploaded: " + error.message + "." +
          (remembered(key) ? " Press Resume upload to try again from where it stopped." : " Try again.");
      }
    }).finally(function () {
      var wasPaused = running[key] && running[key].paused;
      delete running[key];
      b.start.removeAttribute("aria-disabled");
      b.pause.hidden = true;
      showResumeNote(key);
      if (wasPaused && !b.resume.hidden) { b.resume.focus(); }  // the pressed Pause button is gone
    });
  }

  document.querySelectorAll("[data-upload]").forEach(function (upload) {
    var key = upload.dataset.upload;
    var b = box(key);
    upload.hidden = false;
    b.start.addEventListener("click", function () { run(key, "start"); });
    b.resume.addEventListener("click", function () { run(key, "resume"); });
    b.pause.addEventListener("click", function () {
      var job = running[key];
      if (!job) { return; }
      job.paused = true;
      if (job.request) { job.request.abort(); }  // the part under way is sent again on resume
    });
    showResumeNote(key);
  });
  document.querySelectorAll("[data-without-script]").forEach(function (note) { note.remove(); });
}());
