// The outbox: a service record (记录服务, 民情日记) filled without signal is kept on the phone —
// in IndexedDB, photos included — and sent when the connection returns (the "online" event, the
// next page load, or the 立即发送 button). No library, no inline script (CSP).
//
// Forms that take part carry data-outbox (their name in the list) and a hidden client_key: this
// script fills it with crypto.randomUUID(), and the server stores a record once per (author, key),
// so a record sent twice — a reply lost on the way back, two tabs coming online together — is one.
// Without JavaScript, IndexedDB or a service worker the forms post exactly as before.
(function () {
  "use strict";
  if (!window.indexedDB || !window.fetch || !window.FormData || !window.Promise) { return; }

  var DB_NAME = "dy-outbox";
  var STORE = "records";
  var dbPromise = null;
  var flushing = false;

  // --- IndexedDB -------------------------------------------------------------------------------

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          req.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result;
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = tx.onabort = function () { reject(tx.error); };
        result = work(tx.objectStore(STORE));
      });
    });
  }

  function request(req) {
    return new Promise(function (resolve, reject) {
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function allRecords() {
    return openDb().then(function (db) {
      return request(db.transaction(STORE, "readonly").objectStore(STORE).getAll());
    });
  }

  function mine() {
    var user = currentUser();
    return allRecords().then(function (rows) {
      return rows.filter(function (r) { return r.user === user; });
    });
  }

  function put(record) { return withStore("readwrite", function (s) { s.put(record); }); }
  function remove(id) { return withStore("readwrite", function (s) { s["delete"](id); }); }

  // --- the page ----------------------------------------------------------------------------------

  function statusEl() { return document.getElementById("outbox-status"); }
  function currentUser() { var el = statusEl(); return el ? el.getAttribute("data-user") : null; }
  function text(name, n) {
    var el = statusEl();
    var t = (el && el.getAttribute("data-text-" + name)) || "";
    return t.replace("{n}", String(n));
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function keyField(form) { return form.querySelector("input[name=client_key]"); }

  function prepareForms() {
    document.querySelectorAll("form[data-outbox]").forEach(function (form) {
      var field = keyField(form);
      if (field && !field.value) { field.value = newKey(); }
    });
  }

  function say(message, kind) {
    var region = document.getElementById("flash");
    if (!region) { return; }
    var p = document.createElement("p");
    p.className = "flash flash-" + (kind || "info");
    p.setAttribute("role", kind === "error" ? "alert" : "status");
    p.textContent = message;
    region.replaceChildren(p);
  }

  function render() {
    var el = statusEl();
    if (!el) { return Promise.resolve(); }
    return mine().then(function (rows) {
      var waiting = rows.filter(function (r) { return r.state !== "refused"; });
      var refused = rows.filter(function (r) { return r.state === "refused"; });
      var count = el.querySelector(".outbox-count");
      var list = el.querySelector(".outbox-refused");
      var send = el.querySelector("[data-outbox-send]");
      var login = waiting.some(function (r) { return r.state === "login"; });
      count.textContent = waiting.length ? text("pending", waiting.length) + (login ? " · " + text("login") : "") : "";
      send.hidden = !waiting.length || !navigator.onLine;
      list.replaceChildren.apply(list, refused.map(function (r) {
        var li = document.createElement("li");
        li.textContent = text("refused", r.label) + (r.message ? "：" + r.message : "") + " ";
        var open = document.createElement("a");
        open.href = r.action + (r.action.indexOf("?") < 0 ? "?" : "&") + "outbox=" + r.id;
        open.textContent = text("open");
        open.setAttribute("hx-boost", "false");
        li.appendChild(open);
        return li;
      }));
      el.hidden = !waiting.length && !refused.length;
    })["catch"](function () {});
  }

  // --- keeping a record ----------------------------------------------------------------------------

  function keep(form) {
    var data = new FormData(form);
    var fields = [];
    var files = [];
    data.forEach(function (value, name) {
      if (typeof value === "string") {
        if (name !== "csrf_token") { fields.push([name, value]); }
      } else if (value && value.size) {
        files.push([name, value, value.name || "photo.jpg"]);
      }
    });
    var record = {
      user: currentUser(), action: form.getAttribute("action") || location.pathname,
      label: form.getAttribute("data-outbox"), key: (keyField(form) || {}).value || newKey(),
      fields: fields, files: files, state: "queued", saved: Date.now()
    };
    return put(record).then(function () {
      form.reset();
      var field = keyField(form);
      if (field) { field.value = newKey(); }
      say(text("saved"), "success");
      return render();
    }, function () {
      say(text("failed"), "error");
    });
  }

  // Offline: keep the record instead of posting it. Capture phase on the document, so this runs
  // before htmx's own submit handler on the form (hx-boost), which never hears of it.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!form.matches || !form.matches("form[data-outbox]") || !currentUser()) { return; }
    if (evt.submitter && evt.submitter.name === "find") { return; }  // the pickers' search buttons
    var field = keyField(form);
    if (field && !field.value) { field.value = newKey(); }
    if (navigator.onLine) { return; }  // posted as always
    evt.preventDefault();
    evt.stopImmediatePropagation();
    if (form.checkValidity && !form.checkValidity()) { form.reportValidity(); return; }
    keep(form);
  }, true);

  // "Online" but the request never arrived (a weak signal): keep it all the same.
  document.addEventListener("htmx:sendError", function (evt) {
    var form = evt.detail && evt.detail.elt;
    if (form && form.matches && form.matches("form[data-outbox]") && currentUser()) { keep(form); }
  });

  // --- sending ---------------------------------------------------------------------------------------

  function pageToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function freshToken(action) {
    // The page this record came from hands out a token for the session as it is now.
    return fetch(action, { credentials: "same-origin" }).then(function (res) {
      if (new URL(res.url).pathname === "/login") { return null; }
      return res.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var input = doc.querySelector("input[name=csrf_token]");
        return input ? input.value : null;
      });
    });
  }

  function post(record, token) {
    var body = new FormData();
    record.fields.forEach(function (f) { body.append(f[0], f[1]); });
    record.files.forEach(function (f) { body.append(f[0], f[1], f[2]); });
    body.append("csrf_token", token);
    return fetch(record.action, {
      method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": token }
    });
  }

  function messagesIn(res) {
    return res.text().then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var found = doc.querySelectorAll(".alert-error, .field .error");
      return Array.prototype.map.call(found, function (e) { return e.textContent.trim(); }).join("；");
    })["catch"](function () { return ""; });
  }

  // One record: "sent", "kept" (try again later), or a state stored on it.
  function sendOne(record, token, retried) {
    return post(record, token).then(function (res) {
      var path = new URL(res.url).pathname;
      if (res.ok && res.redirected && path !== "/login") { return remove(record.id).then(function () { return "sent"; }); }
      if (path === "/login") { record.state = "login"; return put(record).then(function () { return "stop"; }); }
      if (res.status === 400 && !retried) {  // the token of an old session: ask for a new one once
        return freshToken(record.action).then(function (fresh) {
          if (!fresh) { record.state = "login"; return put(record).then(function () { return "stop"; }); }
          return sendOne(record, fresh, true);
        });
      }
      if (res.status === 422 || res.status === 403 || res.status === 413 || res.status === 400) {
        return messagesIn(res).then(function (message) {
          record.state = "refused";
          record.message = message || text("refused-plain");
          return put(record).then(function () { return "refused"; });
        });
      }
      return "stop";  // 429, 5xx: later
    }, function () { return "stop"; });  // no network after all
  }

  function flushNow() {
    if (flushing || !navigator.onLine || !currentUser()) { return Promise.resolve(); }
    flushing = true;
    var sent = 0;
    return mine().then(function (rows) {
      var queue = rows.filter(function (r) { return r.state !== "refused"; });
      if (!queue.length) { return null; }
      var token = pageToken();
      var next = function (i) {
        if (i >= queue.length) { return null; }
        return sendOne(queue[i], token, false).then(function (outcome) {
          if (outcome === "sent") { sent += 1; }
          return outcome === "stop" ? null : next(i + 1);
        });
      };
      return next(0);
    })["catch"](function () {}).then(function () {
      flushing = false;
      if (sent) { say(text("sent", sent), "success"); }
      return render();
    });
  }

  function flush() {
    // One tab sends at a time (the server would store a double send once anyway).
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("dy-outbox", flushNow);
    }
    return flushNow();
  }

  // --- putting a refused record back into its form -------------------------------------------------

  function restore() {
    var id = Number(new URLSearchParams(location.search).get("outbox"));
    var form = document.querySelector("form[data-outbox]");
    if (!id || !form) { return Promise.resolve(); }
    return allRecords().then(function (rows) {
      var record = rows.filter(function (r) { return r.id === id && r.user === currentUser(); })[0];
      if (!record) { return null; }
      record.fields.forEach(function (f) {
        var els = Array.prototype.filter.call(form.elements, function (e) { return e.name === f[0]; });
        var choice = els.filter(function (e) { return (e.type === "checkbox" || e.type === "radio") && e.value === f[1]; })[0];
        if (choice) { choice.checked = true; return; }
        var plain = els.filter(function (e) { return e.type !== "checkbox" && e.type !== "radio" && e.type !== "file"; })[0];
        if (plain && plain.tagName === "SELECT" && plain.multiple) {
          Array.prototype.forEach.call(plain.options, function (o) { if (o.value === f[1]) { o.selected = true; } });
        } else if (plain) {
          plain.value = f[1];
        } else {  // a ticked household or fellow the picker does not list now: still sent
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = f[0]; hidden.value = f[1];
          form.appendChild(hidden);
        }
      });
      if (window.DataTransfer && record.files.length) {
        var byName = {};
        record.files.forEach(function (f) {
          (byName[f[0]] = byName[f[0]] || new DataTransfer()).items.add(new File([f[1]], f[2], { type: f[1].type }));
        });
        Object.keys(byName).forEach(function (name) {
          var input = form.querySelector("input[type=file][name='" + name + "']");
          if (input) { input.files = byName[name].files; }
        });
      }
      return remove(record.id);
    }).then(render)["catch"](function () {});
  }

  // --- wiring ------------------------------------------------------------------------------------------

  function start() {
    prepareForms();
    restore().then(render).then(flush);
  }

  document.addEventListener("click", function (evt) {
    if (evt.target && evt.target.closest && evt.target.closest("[data-outbox-send]")) { flush(); }
  });
  window.addEventListener("online", flush);
  window.addEventListener("offline", render);
  // A boosted navigation swaps the body: fill the new page's forms and its indicator.
  document.addEventListener("htmx:afterSettle", function () { prepareForms(); render(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { render(); } });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
