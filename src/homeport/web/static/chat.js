// The subscriber's chat widget (/portal/chat): one WebSocket to /ws/chat, reconnecting with
// back-off. A message shows as pending until the server's ack (sent after the commit); on
// reconnect the history comes again and unacknowledged messages are resent with their
// client_id, which the server recognises, so nothing is lost or doubled. Text is only ever
// put in the page as text (textContent), never as HTML. The chatbot answers first (mode "bot")
// until it hands over ("handover"); then a person answers on the same socket.
(() => {
  "use strict";
  const root = document.querySelector("[data-chat-socket]");
  if (!root) return;
  const log = root.querySelector("[data-chat-log]");
  const form = root.querySelector("[data-chat-form]");
  const input = form.querySelector("textarea");
  const status = root.querySelector("[data-chat-status]");
  const shown = new Map(); // message id -> element
  const pending = new Map(); // client_id -> {body, element}
  let socket = null;
  let delay = 1000;

  const newId = () =>
    (window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()))
      .replace(/-/g, "").slice(0, 32);

  function setStatus(text, offline) {
    status.textContent = text;
    status.classList.toggle("offline", Boolean(offline));
  }

  function bubble(author, who, body, links) {
    const item = document.createElement("li");
    item.className = "chat-msg " + (author === "subscriber" ? "mine" : author === "system" ? "system" : "theirs");
    if (author === "bot") item.classList.add("bot");
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    const text = document.createElement("span");
    text.textContent = body;
    item.append(name, text);
    // Knowledge-base articles the bot points to: only links inside the portal's help pages.
    (links || []).forEach((link) => {
      if (typeof link.href !== "string" || !link.href.startsWith("/portal/help/")) return;
      const a = document.createElement("a");
      a.className = "chat-link";
      a.href = link.href;
      a.textContent = link.title;
      item.append(a);
    });
    log.append(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function show(message) {
    if (shown.has(message.id)) return;
    const who = message.author === "subscriber" ? "You" : message.author_name || "Support";
    shown.set(message.id, bubble(message.author, who, message.body, message.links));
    if (message.event === "async_fallback") setStatus("An agent will answer here and by email.");
  }

  function send(clientId) {
    const entry = pending.get(clientId);
    if (entry && socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "message", client_id: clientId, body: entry.body }));
    }
  }

  function connect() {
    const url = new URL(root.dataset.chatSocket, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      delay = 1000;
      setStatus("Connected. Type your message below.");
    });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "history") {
        if (data.greeting && !shown.has("greeting")) {
          shown.set("greeting", bubble("bot", "Assistant", data.greeting));
        }
        data.messages.forEach(show);
        if (data.mode === "async") setStatus("An agent will answer here and by email.");
        if (data.mode === "bot") setStatus("You're chatting with our assistant. Ask for a person any time.");
        pending.forEach((_entry, clientId) => send(clientId));
      } else if (data.type === "ack") {
        const entry = pending.get(data.client_id);
        pending.delete(data.client_id);
        if (entry) {
          entry.element.classList.remove("pending");
          shown.set(data.message.id, entry.element);
        } else {
          show(data.message);
        }
      } else if (data.type === "message") {
        show(data.message);
      } else if (data.type === "handover") {
        setStatus("A person from our support team will answer here.");
      } else if (data.type === "error") {
        const entry = pending.get(data.client_id);
        if (entry) {
          pending.delete(data.client_id);
          entry.element.classList.add("failed");
        }
        setStatus("Not sent: " + data.error, true);
      }
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) {
        window.location.href = "/portal/login?next=/portal/chat";
        return;
      }
      if (event.code === 4403) {
        setStatus("The chat is not available from this page.", true);
        return;
      }
      setStatus("Connection lost. Reconnecting…", true);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    const clientId = newId();
    const element = bubble("subscriber", "You", body);
    element.classList.add("pending");
    pending.set(clientId, { body, element });
    input.value = "";
    send(clientId);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  connect();
})();
