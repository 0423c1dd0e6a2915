// The kiosk clock (Asia/Shanghai, every second) and the poster's print button. No inline scripts (CSP).
(function () {
  "use strict";
  var fmt = null;
  try {
    fmt = new Intl.DateTimeFormat("zh-CN", {
      timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
    });
  } catch (e) { fmt = null; }
  function tick() {
    var el = document.getElementById("kiosk-clock");
    if (!el) { return; }
    var now = new Date();
    el.textContent = fmt ? fmt.format(now) : now.toTimeString().slice(0, 8);
    el.setAttribute("datetime", now.toISOString());
  }
  function start() {
    tick();
    window.setInterval(tick, 1000);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
  document.addEventListener("click", function (evt) {
    var el = evt.target;
    if (el && el.closest && el.closest("[data-print]")) { window.print(); }
  });
})();
