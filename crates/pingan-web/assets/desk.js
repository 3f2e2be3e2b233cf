// The case desk's help while a call is typed: the category found by Chinese or pinyin initials,
// townships and villages suggested as the address is typed, the point picked on the map (map.js
// tells it), and the open cases like the call, each with a button that merges the call into it.
// Without script the form still takes the call.
"use strict";

(function desk() {
  const form = document.getElementById("intake");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const category = $("category"), search = $("category-search"), count = $("category-count");
  const address = $("address"), suggestions = $("place-suggestions");
  const lon = $("lon"), lat = $("lat"), found = $("place-found");
  const similar = $("similar"), similarList = $("similar-list");

  // Waits until typing pauses before asking the server.
  const later = (wait, task) => {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(task, wait); };
  };
  const json = async (url) => {
    const response = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } });
    return response.ok ? response.json() : null;
  };

  search.addEventListener("input", () => {
    const text = search.value.trim().toLowerCase();
    let shown = 0, first = null;
    for (const option of category.querySelectorAll("option[data-initials]")) {
      const match = !text || option.textContent.includes(text) || option.dataset.initials.startsWith(text)
        || option.value.includes(text);
      option.hidden = !match;
      if (match) { shown += 1; first = first || option; }
    }
    count.textContent = text ? `${shown}` : "";
    // The first match is chosen unless the choice already made still matches.
    if (text && first && (!category.value || category.selectedOptions[0].hidden)) {
      category.value = first.value;
      lookForSimilar();
    }
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); category.focus(); }
  });

  address.addEventListener("input", later(200, async () => {
    const text = address.value.trim();
    if (!text) return;
    const names = await json(`/work/desk/places?q=${encodeURIComponent(text)}`);
    if (!names) return;
    suggestions.replaceChildren(...names.map((name) => Object.assign(document.createElement("option"), { value: name })));
  }));

  const map = $("map"), svg = map && map.querySelector("svg");
  const mark = (x, y) => {
    let marker = svg.querySelector("#desk-marker");
    if (!marker) {
      marker = document.createElementNS("http://www.w3.org/2000/svg", "circle");
      marker.id = "desk-marker";
      marker.setAttribute("r", "5");
      marker.setAttribute("fill", "#c92a2a");
      marker.setAttribute("stroke", "#fff");
      marker.setAttribute("stroke-width", "2");
      svg.append(marker);
    }
    marker.setAttribute("cx", x);
    marker.setAttribute("cy", y);
  };
  if (map) {
    map.addEventListener("map-point", async (event) => {
      const point = event.detail;
      lon.value = point.lon.toFixed(6);
      lat.value = point.lat.toFixed(6);
      mark(point.x, point.y);
      const routed = await json(`/api/v1/route?lon=${lon.value}&lat=${lat.value}`);
      found.textContent = routed && routed.grid ? `${routed.grid.name}（${routed.grid.code}）` : "";
      lookForSimilar();
    });
  }

  const lookForSimilar = later(250, async () => {
    if (!category.value || !(address.value.trim() || (lon.value && lat.value))) {
      similar.hidden = true;
      return;
    }
    const query = new URLSearchParams({ category: category.value, lon: lon.value, lat: lat.value, address: address.value });
    const cases = await json(`/work/desk/similar?${query}`);
    if (!cases) return;
    similarList.replaceChildren(...cases.map((other) => {
      const item = document.createElement("li");
      item.dataset.case = other.number;
      const link = Object.assign(document.createElement("a"), { href: `/work/cases/${encodeURIComponent(other.number)}`, textContent: other.number });
      const merge = Object.assign(document.createElement("button"), { type: "submit", name: "merge_into", value: other.number, textContent: similarList.dataset.merge });
      item.append(link, ` ${other.status} · ${other.reported} · ${other.place} · ${other.description} `, merge);
      return item;
    }));
    similar.hidden = cases.length === 0;
  });
  for (const field of [category, address, lon, lat]) field.addEventListener("change", lookForSimilar);
  address.addEventListener("input", lookForSimilar);
})();
