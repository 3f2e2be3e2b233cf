// The command centre's live feed of case actions (server-sent events from /api/v1/events, which
// keeps to what the person may see). Its map moves with map.js.
"use strict";

(function feed() {
  const list = document.getElementById("feed");
  const state = document.getElementById("feed-state");
  if (!list || !state || !window.EventSource) return;
  state.textContent = state.dataset.waiting;
  const events = new EventSource("/api/v1/events");
  events.addEventListener("case", (message) => {
    const event = JSON.parse(message.data);
    const item = document.createElement("li");
    const time = new Date(event.at).toLocaleTimeString(document.documentElement.lang);
    const link = document.createElement("a");
    link.href = `/work/cases/${encodeURIComponent(event.number || event.id)}`;
    link.textContent = event.number || event.id;
    item.append(`${time} `, link, ` ${event.action} · ${event.category} · ${event.status}`);
    list.prepend(item);
    while (list.children.length > 50) list.lastElementChild.remove();
    state.textContent = "";
  });
  events.addEventListener("error", () => { state.textContent = state.dataset.lost; });
  events.addEventListener("open", () => {
    if (!list.children.length) state.textContent = state.dataset.waiting;
  });
})();
