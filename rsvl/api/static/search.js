// rsvl search page: a text box, a result grid with scores and footprints on a Leaflet map.
// The query state (text or a result id, positive and negative ids) is sent to /api/search.
"use strict";

const state = { text: "", similarTo: null, similarKey: "",
                positives: new Set(), negatives: new Set() };
const $ = (id) => document.getElementById(id);
const map = L.map("map", { zoomSnap: 0.25 });
const footprints = L.featureGroup().addTo(map);
let info = null;

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function scoreText(score) {
  return score === null ? "—" : score.toFixed(3);
}

function viewPolygon() {
  const b = map.getBounds();
  const ring = [[b.getWest(), b.getSouth()], [b.getEast(), b.getSouth()],
                [b.getEast(), b.getNorth()], [b.getWest(), b.getNorth()],
                [b.getWest(), b.getSouth()]];
  return { type: "Polygon", coordinates: [ring] };
}

async function search() {
  const body = { k: Number($("k").value) || 12, positives: [...state.positives],
                 negatives: [...state.negatives] };
  if (state.similarTo !== null) body.id = state.similarTo;
  else if (state.text) body.text = state.text;
  if ($("in-view").checked) body.within = viewPolygon();
  setStatus("searching…");
  const response = await fetch("/api/search", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) { setStatus(payload.error, true); return; }
  show(payload.results);
  const what = state.similarTo !== null ? `similar to ${state.similarKey}` : `"${state.text}"`;
  const marks = `${state.positives.size} positive, ${state.negatives.size} negative`;
  setStatus(`${payload.results.length} results for ${what} (${marks})`);
}

function show(results) {
  const grid = $("results");
  grid.replaceChildren();
  footprints.clearLayers();
  for (const result of results) {
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.id = result.id;
    if (state.positives.has(result.id)) card.classList.add("positive");
    if (state.negatives.has(result.id)) card.classList.add("negative");
    const image = document.createElement("img");
    image.src = `/api/chip/${result.id}.png`;
    image.alt = result.key;
    image.title = "search similar";
    image.addEventListener("click", () => similar(result));
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `#${result.rank} ${scoreText(result.score)} ${result.key}`;
    meta.title = result.caption || result.key;
    const buttons = document.createElement("div");
    buttons.className = "buttons";
    for (const [label, kind, title] of [["+", "positive", "mark relevant"],
                                        ["−", "negative", "mark not relevant"],
                                        ["similar", "similar", "search similar"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.title = title;
      button.className = kind;
      button.addEventListener("click", () => (kind === "similar" ? similar(result)
                                                                 : mark(result.id, kind)));
      buttons.append(button);
    }
    card.append(image, meta, buttons);
    grid.append(card);
    if (result.geometry) addFootprint(result, card);
  }
  if (footprints.getLayers().length && !$("in-view").checked) {
    map.fitBounds(footprints.getBounds(), { padding: [20, 20], maxZoom: 18 });
  }
}

function addFootprint(result, card) {
  const layer = L.geoJSON(result.geometry, {
    style: { color: "#1565c0", weight: 2, fillOpacity: 0.15 },
  });
  layer.bindTooltip(`#${result.rank} ${scoreText(result.score)} ${result.key}`);
  layer.on("mouseover", () => card.classList.add("hover"));
  layer.on("mouseout", () => card.classList.remove("hover"));
  layer.on("click", () => card.scrollIntoView({ block: "nearest" }));
  footprints.addLayer(layer);
}

function similar(result) {
  state.similarTo = result.id;
  state.similarKey = result.key;
  state.text = "";
  $("query").value = "";
  search();
}

function mark(id, kind) {
  const other = kind === "positive" ? state.negatives : state.positives;
  const set = kind === "positive" ? state.positives : state.negatives;
  other.delete(id);
  if (set.has(id)) set.delete(id); else set.add(id);
  search();
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.text = $("query").value.trim();
  state.similarTo = null;
  if (!state.text && !state.positives.size) { setStatus("type a query first", true); return; }
  search();
});

$("clear").addEventListener("click", () => {
  state.positives.clear();
  state.negatives.clear();
  document.querySelectorAll(".card").forEach((c) => c.classList.remove("positive", "negative"));
  setStatus("marks cleared");
});

async function start() {
  info = await (await fetch("/api/info")).json();
  $("k").max = info.max_k;
  if (info.basemap) {
    L.tileLayer(info.basemap.url, { minZoom: info.basemap.min_zoom || 0,
                                    maxZoom: info.basemap.max_zoom || 22 }).addTo(map);
  }
  if (info.bounds) map.fitBounds(info.bounds);
  else map.setView([0, 0], 2);
  setStatus(`${info.name}: ${info.count} images, model ${info.model || "unknown"}`);
  document.body.dataset.ready = "true";
}

start();
