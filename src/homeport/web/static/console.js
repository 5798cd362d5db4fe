// The agent console's own small script: keyboard shortcuts, macros into the reply box, the
// queue's live counters (polled; the page works without this script, only less live), and,
// through the chat channel's chat-agent.js, the live chat of a case and the queue's screen pops.
// Text from anyone goes into the page with textContent only.
document.addEventListener("DOMContentLoaded", () => {
  const help = document.getElementById("shortcuts");
  const toggleHelp = () => {
    if (!help || typeof help.showModal !== "function") return;
    if (help.open) help.close();
    else help.showModal();
  };
  document.querySelectorAll("[data-help-open]").forEach((b) => b.addEventListener("click", toggleHelp));

  // --- Queue: j/k selection, o/Enter open, t take, n take next, / search.
  let rows = [];
  let selected = -1;
  const collectRows = () => {
    rows = [...document.querySelectorAll(".case-row")];
    if (selected >= rows.length) selected = rows.length - 1;
  };
  const select = (index) => {
    collectRows();
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("selected", i === selected));
    rows[selected].scrollIntoView({ block: "nearest" });
    const link = rows[selected].querySelector(".case-link");
    if (link) link.focus({ preventScroll: true });
  };
  collectRows();

  const shortcut = (key) => document.querySelector(`[data-shortcut="${key}"]`);
  const typing = (el) =>
    el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (key === "?") {
      toggleHelp();
      event.preventDefault();
      return;
    }
    if (help && help.open) return;
    if (rows.length && (key === "j" || key === "k")) {
      select(selected + (key === "j" ? 1 : -1));
      event.preventDefault();
      return;
    }
    if (rows.length && selected >= 0 && (key === "o" || key === "Enter")) {
      window.location.href = rows[selected].dataset.href;
      event.preventDefault();
      return;
    }
    if (rows.length && selected >= 0 && key === "t") {
      const take = rows[selected].querySelector("button.take");
      if (take) take.click();
      event.preventDefault();
      return;
    }
    const target = shortcut(key);
    if (!target) return;
    event.preventDefault();
    if (target.tagName === "A") {
      window.location.href = target.href;
    } else if (target.tagName === "BUTTON") {
      target.click();
    } else {
      target.scrollIntoView({ block: "center" });
      target.focus();
    }
  });

  // --- Macros: choosing one fills the reply box with its text for this case.
  document.querySelectorAll("select[data-macro-target]").forEach((picker) => {
    picker.addEventListener("change", () => {
      const box = document.getElementById(picker.dataset.macroTarget);
      const option = picker.selectedOptions[0];
      if (box && option && option.dataset.body !== undefined) {
        box.value = option.dataset.body;
        box.focus();
      }
    });
  });

  // --- Queue: poll the counters; when the first page changed, fetch it and swap the list.
  const counters = document.getElementById("counters");
  if (counters && counters.dataset.poll) {
    const seconds = Math.max(2, Number(counters.dataset.pollS) || 5);
    const note = document.getElementById("live-note");
    let busy = false;
    const swapList = async () => {
      const response = await fetch(window.location.href, {
        headers: { Accept: "text/html" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok || response.redirected) throw new Error(String(response.status));
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const oldList = document.getElementById("queue-list");
      const newList = fresh.getElementById("queue-list");
      if (!oldList || !newList) throw new Error("unexpected page");
      const keep = selected >= 0 && rows[selected] ? rows[selected].dataset.case : null;
      oldList.replaceWith(document.adoptNode(newList));
      collectRows();
      selected = -1;
      if (keep) {
        const index = rows.findIndex((r) => r.dataset.case === keep);
        if (index >= 0) select(index);
      }
    };
    const poll = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(counters.dataset.poll, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok) throw new Error(String(response.status));
        const data = await response.json();
        for (const [status, n] of Object.entries(data.counts || {})) {
          const cell = counters.querySelector(`[data-count="${status}"]`);
          if (cell && cell.textContent !== String(n)) cell.textContent = String(n);
        }
        if (data.stamp !== counters.dataset.stamp) {
          await swapList();
          counters.dataset.stamp = data.stamp;
        }
        if (note) note.classList.remove("stale");
      } catch (error) {
        if (note) note.classList.add("stale");
      } finally {
        busy = false;
      }
    };
    window.setInterval(poll, seconds * 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) poll();
    });
  }

  // --- Live chat on a live_chat case (chat-agent.js, WebSocket /ws/agent/cases/{id}).
  const chatBox = document.querySelector("[data-chat-case]");
  if (chatBox && window.HomeportChat) {
    const log = chatBox.querySelector("[data-chat-log]");
    const state = chatBox.querySelector("[data-chat-state]");
    const form = chatBox.querySelector("[data-chat-form]");
    const input = chatBox.querySelector("[data-chat-input]");
    const add = (m) => {
      const item = document.createElement("li");
      item.className = m.internal ? "internal" : m.author;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = m.author_name || m.author;
      const body = document.createElement("span");
      body.textContent = m.body;
      const when = document.createElement("time");
      when.dateTime = m.at;
      when.textContent = new Date(m.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      item.append(who, body, when);
      log.append(item);
      log.scrollTop = log.scrollHeight;
    };
    const labels = { open: "connected", reconnecting: "reconnecting…", closed: "closed" };
    const chat = window.HomeportChat.openCase(chatBox.dataset.chatCase, {
      onHistory(data) {
        log.replaceChildren();
        data.messages.forEach(add);
        if (data.mode === "async") state.textContent = "subscriber away: replies go by e-mail";
      },
      onMessage: add,
      onAck: (_id, m) => add(m),
      onError(_id, error) {
        state.textContent = `not sent: ${error}`;
      },
      onState(s) {
        state.textContent = labels[s] || s;
        state.className = `badge ${s === "open" ? "ok" : "warn"}`;
      },
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      chat.send(text);
      input.value = "";
    });
  }

  // --- Queue: a call answered or a chat waiting pops up with a link to its case.
  const pops = document.getElementById("pops");
  if (pops && window.HomeportChat) {
    const pop = (text, caseId) => {
      const item = document.createElement("li");
      const words = document.createElement("span");
      words.textContent = `${text} `;
      item.append(words);
      if (caseId) {
        const link = document.createElement("a");
        link.href = `/console/cases/${encodeURIComponent(caseId)}`;
        link.textContent = `Open case #${caseId}`;
        item.append(link);
      }
      pops.prepend(item);
      while (pops.children.length > 5) pops.lastElementChild.remove();
    };
    window.HomeportChat.watchQueue({
      onScreenPop(n) {
        const who = n.subscriber_name ? `${n.subscriber_name} (${n.account_number})` : n.caller;
        pop(`Call ${n.event === "call.answered" ? "answered" : "ringing"}: ${who}.`, n.case_id);
      },
      onChatWaiting(n) {
        pop("A subscriber is waiting in live chat.", n.case_id);
      },
    });
  }
});
