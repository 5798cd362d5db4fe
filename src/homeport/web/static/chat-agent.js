// Chat for the agent console: include <script src="/static/chat-agent.js" defer></script>, then
//
//   const chat = HomeportChat.openCase(caseId, {
//     onHistory(data) {},        // {case_id, chat, conversation, mode, subscriber_id, messages}
//     onMessage(message) {},     // a message from anyone else (subscriber, other agents, system)
//     onAck(clientId, message) {},  // your message, committed
//     onError(clientId, error) {},
//     onState(state) {},         // "open" | "reconnecting" | "closed"
//   });
//   chat.send("Hello"); chat.note("internal note"); chat.close();
//
//   const queue = HomeportChat.watchQueue({
//     onChatWaiting(n) {}, onChatMessage(n) {}, onScreenPop(n) {}, onState(state) {} });
//
// Protocol: docs/support.md, "Chat". Messages are kept until acknowledged and resent (same
// client_id) after a reconnect; the server drops the duplicates. Put text into the page with
// textContent only.
(() => {
  "use strict";
  const socketUrl = (path) => {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url;
  };
  const newId = () =>
    (window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()))
      .replace(/-/g, "").slice(0, 32);
  const noop = () => {};

  function persistent(path, onData, onState, onOpen) {
    let socket = null;
    let delay = 1000;
    let stopped = false;
    const connect = () => {
      socket = new WebSocket(socketUrl(path));
      socket.addEventListener("open", () => {
        delay = 1000;
        onState("open");
        onOpen(socket);
      });
      socket.addEventListener("message", (event) => onData(JSON.parse(event.data)));
      socket.addEventListener("close", (event) => {
        if (stopped || event.code === 4401 || event.code === 4403 || event.code === 4404) {
          onState("closed");
          return;
        }
        onState("reconnecting");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      });
    };
    connect();
    return {
      send(data) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(data));
      },
      close() {
        stopped = true;
        if (socket) socket.close();
      },
    };
  }

  function openCase(caseId, handlers = {}) {
    const h = { onHistory: noop, onMessage: noop, onAck: noop, onError: noop, onState: noop, ...handlers };
    const pending = new Map();
    const seen = new Set();
    const conn = persistent(
      `/ws/agent/cases/${encodeURIComponent(caseId)}`,
      (data) => {
        if (data.type === "history") {
          data.messages.forEach((m) => seen.add(m.id));
          h.onHistory(data);
        } else if (data.type === "ack") {
          pending.delete(data.client_id);
          if (!seen.has(data.message.id)) {
            seen.add(data.message.id);
            h.onAck(data.client_id, data.message);
          }
        } else if (data.type === "message") {
          if (!seen.has(data.message.id)) {
            seen.add(data.message.id);
            h.onMessage(data.message);
          }
        } else if (data.type === "error") {
          pending.delete(data.client_id);
          h.onError(data.client_id, data.error);
        }
      },
      h.onState,
      () => pending.forEach((frame) => conn.send(frame)),
    );
    const post = (type, body) => {
      const clientId = newId();
      const frame = { type, client_id: clientId, body };
      pending.set(clientId, frame);
      conn.send(frame);
      return clientId;
    };
    return {
      send: (body) => post("message", body),
      note: (body) => post("note", body),
      close: () => conn.close(),
    };
  }

  function watchQueue(handlers = {}) {
    const h = { onChatWaiting: noop, onChatMessage: noop, onScreenPop: noop, onState: noop, ...handlers };
    return persistent(
      "/ws/agent/queue",
      (data) => {
        if (data.type === "chat_waiting") h.onChatWaiting(data);
        else if (data.type === "chat_message") h.onChatMessage(data);
        else if (data.type === "screen_pop") h.onScreenPop(data);
      },
      h.onState,
      noop,
    );
  }

  window.HomeportChat = { openCase, watchQueue };
})();
