// The subscriber portal's small script: confirmations, following remote actions until they
// finish, the service worker and the install button. Everything works without it too.
(function () {
  "use strict";

  // A form with data-confirm asks first (restarting the gateway cuts the Internet).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Follow queued or sent remote actions: poll their status (never cached) until final.
  var FINAL = ["done", "failed", "unsupported", "cancelled"];
  function follow(el) {
    var id = el.getAttribute("data-action-id");
    var tries = 0;
    function poll() {
      tries += 1;
      fetch("/portal/actions/" + encodeURIComponent(id), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (a) {
          if (!a) { return; }
          var badge = el.querySelector("[data-action-status]");
          if (badge) { badge.textContent = a.status_words; }
          el.setAttribute("data-status", a.status);
          if (FINAL.indexOf(a.status) >= 0) {
            if (badge) { badge.classList.toggle("ok", a.status === "done"); }
            if (a.result_words) {
              var out = el.querySelector("[data-action-result]");
              if (!out) {
                out = document.createElement("span");
                out.className = "small";
                out.setAttribute("data-action-result", "");
                el.appendChild(document.createTextNode(" "));
                el.appendChild(out);
              }
              out.textContent = a.result_words;
            }
          } else if (tries < 60) {
            window.setTimeout(poll, 5000);
          }
        })
        .catch(function () { /* offline: try later */ if (tries < 60) { window.setTimeout(poll, 15000); } });
    }
    window.setTimeout(poll, 3000);
  }
  document.querySelectorAll("[data-action-id]").forEach(function (el) {
    var status = el.getAttribute("data-status");
    if (status === "queued" || status === "sent") { follow(el); }
  });

  // Move focus to the step just run, so that keyboard and screen-reader users land on it.
  var latest = document.getElementById("latest");
  if (latest && window.location.hash === "#latest") { latest.focus(); }

  // The service worker caches the portal's shell only (see /portal/sw.js).
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/portal/sw.js", { scope: "/portal/" }).catch(function () {});
  }

  // "Install on this phone" when the browser offers it.
  var installer = null;
  var button = document.querySelector("[data-install]");
  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();
    installer = event;
    if (button) { button.hidden = false; }
  });
  if (button) {
    button.addEventListener("click", function () {
      if (!installer) { return; }
      installer.prompt();
      installer = null;
      button.hidden = true;
    });
  }
})();
