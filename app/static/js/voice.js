// 语音留言: a record button with a timer that puts the recording into the form's own file input
// (<input type="file" accept="audio/*" capture>), so the form posts it like a chosen file.
// Without this script, or in a browser that cannot record, the file input alone does the job.
(function () {
  "use strict";
  // What the server reads by content: Chrome and WeChat record WebM, Firefox Ogg, Safari MP4.
  var TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
  var EXT = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a" };

  function canRecord() {
    if (!(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
      return false;
    }
    try { return !!new DataTransfer().items; } catch (e) { return false; }
  }

  // What a form sent in its voice input, kept until the answer: when the server refuses the form
  // for another reason (422: a missing phone, the duplicate warning), the swapped-in form gets the
  // recording back instead of asking an elderly resident to speak again.
  var kept = null;
  document.addEventListener("submit", function (e) {
    var input = e.target.querySelector && e.target.querySelector("input[type=file][data-voice-input]");
    kept = input && input.files && input.files.length
      ? { action: e.target.getAttribute("action"), name: input.name, file: input.files[0] } : null;
  }, true);
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!e.detail.xhr || e.detail.xhr.status !== 422) { kept = null; }
  });

  function restore(input, box, preview, status) {
    var form = input.form;
    if (!kept || input.files.length || !form || kept.name !== input.name ||
        form.getAttribute("action") !== kept.action) { return; }
    var file = kept.file;
    kept = null;
    if (input.getAttribute("aria-invalid") === "true") { return; }  // the recording itself was refused
    var list = new DataTransfer();
    list.items.add(file);
    input.files = list.files;
    var lost = box.parentNode.querySelector("[data-voice-lost]");
    if (lost) { lost.hidden = true; }
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    status.textContent = box.getAttribute("data-kept");
  }

  function clock(s) { return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2); }

  function setup(box) {
    if (box.getAttribute("data-ready")) { return; }
    box.setAttribute("data-ready", "1");
    var field = box.closest(".field");
    var input = field && field.querySelector("input[type=file][data-voice-input]");
    if (!input || !canRecord()) { return; }
    var button = box.querySelector("[data-voice-record]");
    var label = box.querySelector("[data-voice-label]");
    var timer = box.querySelector("[data-voice-timer]");
    var status = box.querySelector("[data-voice-status]");
    var preview = box.querySelector("[data-voice-preview]");
    var limit = parseInt(box.getAttribute("data-limit"), 10) || 60;
    var recorder = null, stream = null, chunks = [], started = 0, tick = null;
    box.hidden = false;
    restore(input, box, preview, status);

    function show(seconds) { timer.textContent = clock(seconds) + " / " + clock(limit); }

    function stop() {
      if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    }

    function done() {
      clearInterval(tick);
      stream.getTracks().forEach(function (t) { t.stop(); });
      var type = (recorder.mimeType || chunks.length && chunks[0].type || "audio/webm").split(";")[0];
      var blob = new Blob(chunks, { type: type });
      var list = new DataTransfer();
      list.items.add(new File([blob], "voice." + (EXT[type] || "webm"), { type: type }));
      input.files = list.files;
      if (preview.src) { URL.revokeObjectURL(preview.src); }
      preview.src = URL.createObjectURL(blob);
      preview.hidden = false;
      button.setAttribute("aria-pressed", "false");
      label.textContent = box.getAttribute("data-start");
      box.classList.remove("recording");
      status.textContent = box.getAttribute("data-done");
    }

    function start(s) {
      stream = s;
      chunks = [];
      var type = TYPES.filter(function (t) { return MediaRecorder.isTypeSupported(t); })[0];
      // 32 kbit/s: a minute is about 240 KB, far under the 2 MB the server takes.
      recorder = new MediaRecorder(s, type ? { mimeType: type, audioBitsPerSecond: 32000 } : {});
      recorder.ondataavailable = function (e) { if (e.data && e.data.size) { chunks.push(e.data); } };
      recorder.onstop = done;
      recorder.start(1000);
      started = Date.now();
      show(0);
      tick = setInterval(function () {
        var ms = Date.now() - started;
        show(Math.min(Math.floor(ms / 1000), limit));
        if (ms >= limit * 1000 - 300) { stop(); }  // the server refuses more than a minute
      }, 250);
      button.setAttribute("aria-pressed", "true");
      label.textContent = box.getAttribute("data-stop");
      box.classList.add("recording");
      status.textContent = box.getAttribute("data-recording");
    }

    button.addEventListener("click", function () {
      if (recorder && recorder.state === "recording") { stop(); return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then(start, function () {
        status.textContent = box.getAttribute("data-denied");
      });
    });
    // A file the resident chooses instead replaces the recording.
    input.addEventListener("change", function (e) {
      if (e.isTrusted) { preview.hidden = true; status.textContent = ""; }
    });
  }

  function init(root) {
    var boxes = (root.querySelectorAll ? root : document).querySelectorAll("[data-voice-recorder]");
    Array.prototype.forEach.call(boxes, setup);
  }
  init(document);
  document.addEventListener("htmx:load", function (evt) { init(evt.detail.elt || document); });
})();
