// The command centre's two live parts: the workload map (pan by dragging, zoom with the wheel or
// the buttons, a click on a place opens it) and the feed of case actions (server-sent events from
// /api/v1/events, which keeps to what the person may see).
"use strict";

(function map() {
  const box = document.getElementById("map");
  const svg = box && box.querySelector("svg");
  if (!svg) return;
  const base = svg.viewBox.baseVal;
  const home = { x: base.x, y: base.y, width: base.width, height: base.height };
  let view = { ...home };
  const show = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.width} ${view.height}`);
  // Zoom by `factor` about a point given as fractions of the map's width and height.
  const zoom = (factor, fx = 0.5, fy = 0.5) => {
    const width = Math.min(home.width, Math.max(home.width / 64, view.width * factor));
    const height = width * home.height / home.width;
    view = { x: view.x + (view.width - width) * fx, y: view.y + (view.height - height) * fy, width, height };
    show();
  };
  box.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = svg.getBoundingClientRect();
    zoom(event.deltaY < 0 ? 0.8 : 1.25, (event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
  }, { passive: false });
  let drag = null;
  box.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, moved: false };
  });
  box.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const rect = svg.getBoundingClientRect();
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    view.x -= dx * view.width / rect.width;
    view.y -= dy * view.height / rect.height;
    drag.x = event.clientX;
    drag.y = event.clientY;
    show();
  });
  box.addEventListener("pointerup", (event) => {
    const place = event.target.closest("[data-href]");
    if (drag && !drag.moved && place) window.location.assign(place.dataset.href);
    drag = null;
  });
  box.addEventListener("pointerleave", () => { drag = null; });
  for (const button of document.querySelectorAll("[data-zoom]")) {
    button.addEventListener("click", () => {
      if (button.dataset.zoom === "in") zoom(0.5);
      else if (button.dataset.zoom === "out") zoom(2);
      else { view = { ...home }; show(); }
    });
  }
})();

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
