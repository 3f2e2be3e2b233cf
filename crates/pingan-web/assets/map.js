// Pan and zoom for a page's server-drawn map (drag, the wheel, the buttons). A click on a place
// with a link opens it; a click anywhere else is told to the page as a "map-point" event with its
// longitude and latitude.
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
  // The map's projection (west, north, x and y scales), to turn a click back into a point.
  const [west, north, scaleX, scaleY] = (svg.dataset.projection || "").split(" ").map(Number);
  box.addEventListener("pointerup", (event) => {
    if (drag && !drag.moved) {
      const place = event.target.closest("[data-href]");
      if (place) window.location.assign(place.dataset.href);
      else if (scaleX && scaleY) {
        const at = new DOMPoint(event.clientX, event.clientY).matrixTransform(svg.getScreenCTM().inverse());
        const detail = { lon: west + at.x / scaleX, lat: north - at.y / scaleY, x: at.x, y: at.y };
        box.dispatchEvent(new CustomEvent("map-point", { detail }));
      }
    }
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
