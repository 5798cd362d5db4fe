// The portal's service worker (served as /portal/sw.js, scope /portal/). It caches the shell
// only — styles, script, icons and the offline page — never a page or an answer with account
// data: pages always come from the network, and the offline page stands in when there is none.
"use strict";
var SHELL = "homeport-portal-shell-v1";
var FILES = [
  "/static/app.css",
  "/static/chat.css",
  "/static/portal.css",
  "/static/portal.js",
  "/static/portal-icon.svg",
  "/static/portal-icon-maskable.svg",
  "/portal/offline",
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL).then(function (cache) { return cache.addAll(FILES); }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(
        names.filter(function (n) { return n.indexOf("homeport-portal-") === 0 && n !== SHELL; })
          .map(function (n) { return caches.delete(n); })
      );
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    // Pages: always the network (they carry account data); offline, the offline page.
    event.respondWith(fetch(request).catch(function () { return caches.match("/portal/offline"); }));
    return;
  }
  if (FILES.indexOf(url.pathname) >= 0 && url.pathname.indexOf("/static/") === 0) {
    // Shell files: the network first (fresh after a deploy), the cache when offline.
    event.respondWith(
      fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(SHELL).then(function (cache) { cache.put(request, copy); });
        }
        return response;
      }).catch(function () { return caches.match(request); })
    );
  }
  // Anything else (action status, chat, API): straight to the network, never cached.
});
