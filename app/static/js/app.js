// Small behaviours htmx does not cover. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";
  // Register the service worker where there is one (WeChat on iOS has none: nothing depends on it).
  if ("serviceWorker" in navigator && window.isSecureContext) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
    });
  }
  // A form sent while offline keeps what was typed and says so, instead of failing silently.
  document.addEventListener("htmx:sendError", function (evt) {
    var region = document.getElementById("flash");
    if (region) {
      var p = document.createElement("p");
      p.className = "flash flash-error";
      p.setAttribute("role", "alert");
      p.textContent = document.documentElement.lang === "en"
        ? "No network. Nothing was sent; your input is kept. Try again when online."
        : "未联网：内容没有提交，已保留在页面上，请联网后再提交。";
      region.replaceChildren(p);
    }
  });
  // The first refused field takes the focus: the server marks it autofocus, which a page load
  // honours; a form swapped in by htmx (a boosted post answered 422) is focused here.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var root = evt.detail && evt.detail.elt;
    var invalid = root && root.querySelector && root.querySelector("[aria-invalid=true]");
    if (invalid && document.activeElement !== invalid) { invalid.focus(); }
  });
  // A boosted request keeps the head: a page of another stylesheet (a resident's form has its
  // own; a deploy renames them) is loaded whole instead — a form's answer only if it redirected.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var d = evt.detail, x = d.xhr, m = /<link rel="stylesheet" href="([^"]+)"/.exec(x && x.responseText || "");
    var mine = document.querySelector('link[rel="stylesheet"]');
    if (!d.boosted || !m || !mine || m[1] === mine.getAttribute("href") || !x.responseURL) { return; }
    if (d.requestConfig.verb !== "get" && x.responseURL.indexOf(d.requestConfig.path) >= 0) { return; }
    d.shouldSwap = false;
    window.location.assign(x.responseURL);
  });
  // Elements with data-autosubmit submit their form when changed (filters without a button).
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el && el.matches && el.matches("[data-autosubmit]") && el.form) {
      if (window.htmx) { window.htmx.trigger(el.form, "submit"); } else { el.form.submit(); }
    }
  });
})();
