// Homeport's own small script: the phone menu toggle and the live figures of the fleet health
// page. No framework, no build step.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".menu-toggle");
  const nav = document.getElementById("mainnav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  // A button with data-confirm asks first (a gateway restart interrupts the household).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  // <p data-refresh="30" data-refresh-target="live">: every 30 s, fetch this page again and
  // swap in the fresh #live block and time stamp (the page without script reloads itself
  // through a <noscript> meta refresh instead).
  const stamp = document.querySelector("[data-refresh]");
  if (stamp) {
    const seconds = Math.max(5, Number(stamp.dataset.refresh) || 30);
    const targetId = stamp.dataset.refreshTarget;
    let busy = false;
    const refresh = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(window.location.href, {
          headers: { Accept: "text/html" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok || response.redirected) throw new Error(String(response.status));
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        const oldBlock = document.getElementById(targetId);
        const newBlock = fresh.getElementById(targetId);
        const newStamp = fresh.querySelector("[data-refresh]");
        if (!oldBlock || !newBlock || !newStamp) throw new Error("unexpected page");
        oldBlock.replaceWith(document.adoptNode(newBlock));
        stamp.innerHTML = newStamp.innerHTML;
        stamp.classList.remove("stale");
        document.dispatchEvent(new CustomEvent("homeport:refreshed"));
      } catch (error) {
        stamp.classList.add("stale");
      } finally {
        busy = false;
      }
    };
    window.setInterval(refresh, seconds * 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refresh();
    });
  }
});
