// clipdex web page: text search, image upload / drag-and-drop, click a result to search by it.
"use strict";

const PAGE = 24;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let lastSearch = null; // a function(offset) that fetches the next page of the current search

function headers(extra) {
  const key = localStorage.getItem("clipdex-api-key");
  return Object.assign(key ? { "X-API-Key": key } : {}, extra || {});
}

// An <img src> cannot send the API key: when the server wants it for reads, thumbnails
// are fetched with the key and shown from a blob URL.
function setThumbnail(img, url) {
  if (!localStorage.getItem("clipdex-api-key")) {
    img.src = url;
    return;
  }
  fetch(url, { headers: headers() })
    .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(response.status))))
    .then((blob) => { img.src = URL.createObjectURL(blob); })
    .catch(() => { img.alt = "thumbnail unavailable"; });
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function call(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
  }
  return body;
}

// Regions (text lines read in the picture, located things) drawn over the whole picture:
// an SVG with the picture's own pixel coordinates, fitted into the tile as the image is.
function regionsOverlay(hit) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "regions");
  svg.setAttribute("viewBox", `0 0 ${hit.width} ${hit.height}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  svg.setAttribute("aria-hidden", "true");
  const stroke = Math.max(2, Math.min(hit.width, hit.height) / 120);
  if (hit.heatmap && hit.heatmap.length) {
    // The heat map: one translucent cell per patch, stretched over the whole picture.
    const rows = hit.heatmap.length, cols = hit.heatmap[0].length;
    const heat = document.createElementNS(SVG, "g");
    heat.setAttribute("class", "heat");
    heat.setAttribute("transform", `scale(${hit.width / cols} ${hit.height / rows})`);
    hit.heatmap.forEach((row, y) => row.forEach((value, x) => {
      if (value < 0.05) return;
      const cell = document.createElementNS(SVG, "rect");
      cell.setAttribute("x", x);
      cell.setAttribute("y", y);
      cell.setAttribute("width", 1);
      cell.setAttribute("height", 1);
      cell.setAttribute("fill-opacity", (0.55 * value).toFixed(2));
      heat.append(cell);
    }));
    svg.append(heat);
  }
  for (const region of hit.regions) {
    let shape;
    if (region.quad) {
      shape = document.createElementNS(SVG, "polygon");
      shape.setAttribute("points", region.quad.map((p) => p.join(",")).join(" "));
    } else {
      const [x0, y0, x1, y1] = region.box;
      shape = document.createElementNS(SVG, "rect");
      shape.setAttribute("x", x0);
      shape.setAttribute("y", y0);
      shape.setAttribute("width", x1 - x0);
      shape.setAttribute("height", y1 - y0);
    }
    shape.setAttribute("class", `region ${region.method}`);
    shape.setAttribute("stroke-width", stroke);
    const title = document.createElementNS(SVG, "title");
    title.textContent = region.label;
    shape.append(title);
    svg.append(shape);
  }
  return svg;
}

function render(hits, append) {
  const grid = $("results");
  if (!append) grid.replaceChildren();
  for (const hit of hits) {
    const card = document.createElement("figure");
    card.className = "hit";
    card.dataset.id = hit.id;
    card.title = "find similar images";
    const frame = document.createElement("div");
    frame.className = "frame";
    const img = document.createElement("img");
    setThumbnail(img, hit.thumbnail_url);
    img.alt = hit.path;
    img.loading = "lazy";
    frame.append(img);
    if (((hit.regions && hit.regions.length) || hit.heatmap) && hit.width && hit.height) frame.append(regionsOverlay(hit));
    const meta = document.createElement("figcaption");
    meta.className = "meta";
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = hit.score.toFixed(3);
    meta.append(score, " ", hit.path.split("/").pop());
    card.append(frame, meta);
    const lines = (hit.regions || []).filter((r) => r.quad || r.method.startsWith("rapidocr") || r.method.startsWith("tesseract"));
    if (lines.length) {
      // What the picture says: read by OCR, set as text, never as HTML.
      const said = document.createElement("p");
      said.className = "said";
      said.textContent = lines.map((r) => `“${r.label}”`).join(" ");
      card.append(said);
    }
    if (hit.caption_status) {
      // Written by the server's captioner: set as text, never as HTML.
      const caption = document.createElement("p");
      caption.className = `caption ${hit.caption_status}`;
      caption.textContent = hit.caption ?? (hit.caption_status === "pending" ? "(caption not ready yet)" : "(no caption)");
      card.append(caption);
    }
    card.addEventListener("click", () => searchSimilar(hit.id, hit.path));
    grid.append(card);
  }
}

async function run(search, label) {
  lastSearch = search;
  setStatus(`searching ${label}…`);
  try {
    const body = await search(0);
    render(body.hits, false);
    $("more").hidden = body.hits.length < PAGE;
    setStatus(`${body.hits.length}${body.hits.length === PAGE ? "+" : ""} results for ${label} (${body.took_ms.toFixed(0)} ms)`);
  } catch (error) {
    render([], false);
    $("more").hidden = true;
    setStatus(error.message, true);
  }
}

function searchText(query) {
  const words = $("text-in-image").checked;
  const ask = words ? { text_in_image: query } : { query, locate: $("locate").checked };
  return run((offset) => call("/v1/search/text", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(Object.assign(ask, { k: PAGE, offset, caption: $("captions").checked })),
  }), words ? `pictures that say “${query}”` : `“${query}”`);
}

function searchUpload(file) {
  return run((offset) => {
    const form = new FormData();
    form.append("file", file);
    form.append("k", PAGE);
    form.append("offset", offset);
    form.append("caption", $("captions").checked);
    form.append("locate", $("locate").checked);
    return call("/v1/search/image", { method: "POST", headers: headers(), body: form });
  }, file.name);
}

function searchSimilar(id, path) {
  return run((offset) => call(`/v1/images/${id}/similar?k=${PAGE}&offset=${offset}&caption=${$("captions").checked}&locate=${$("locate").checked}`, { headers: headers() }),
    `images like ${path.split("/").pop()}`);
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  if (query) searchText(query);
  else setStatus("type something to search for", true);
});
$("upload").addEventListener("change", () => {
  if ($("upload").files.length) searchUpload($("upload").files[0]);
});
const zone = $("drop-zone");
zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  const file = event.dataTransfer.files[0];
  if (file) searchUpload(file);
});
$("more").addEventListener("click", async () => {
  if (!lastSearch) return;
  try {
    const body = await lastSearch($("results").children.length);
    render(body.hits, true);
    $("more").hidden = body.hits.length < PAGE;
  } catch (error) {
    setStatus(error.message, true);
  }
});

$("api-key").value = localStorage.getItem("clipdex-api-key") || "";
$("api-key").addEventListener("change", () => {
  const key = $("api-key").value.trim();
  if (key) localStorage.setItem("clipdex-api-key", key);
  else localStorage.removeItem("clipdex-api-key");
});
