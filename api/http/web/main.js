// clipdex web page: searches by text, by the words in pictures, by an uploaded or an indexed
// picture; filters; the viewer; the collection panel; duplicates. The URL holds the search.

import { setApiKey, apiKey } from "./api.js";
import { fillFilterChoices, loadStats, reindex, reindexReady } from "./collection.js";
import { showDuplicates } from "./duplicates.js";
import { fileName, tile } from "./grid.js";
import { PAGE, describe, emptySearch, fetchPage, fromUrl, toUrl } from "./search.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
let current = emptySearch();
let hits = []; // the current search's results so far, in grid order
let more = false; // whether the server may have another page
let loading = null; // the page being fetched, so that scrolling does not ask twice
let generation = 0; // bumped by every new search: late pages of an old one are dropped
let stats = null;

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

function showView(name) {
  $("results-view").hidden = name !== "results";
  $("duplicates-view").hidden = name !== "duplicates";
}

// ---- the search as the controls show it -------------------------------------------------

function filtersFromControls() {
  return {
    folder: $("folder").value.trim(),
    types: [...document.querySelectorAll("#types input:checked")].map((box) => box.value),
    from: $("date-from").value,
    to: $("date-to").value,
    min: $("min-score").value.trim(),
    captions: $("captions").checked,
    locate: $("locate").checked,
  };
}

function showInControls(search) {
  if (search.kind === "text" || search.kind === "words") $("query").value = search.query;
  $("text-in-image").checked = search.kind === "words";
  $("captions").checked = search.captions;
  $("locate").checked = search.locate;
  $("folder").value = search.folder;
  $("date-from").value = search.from;
  $("date-to").value = search.to;
  $("min-score").value = search.min;
  document.querySelectorAll("#types input").forEach((box) => { box.checked = search.types.includes(box.value); });
  const filtered = Boolean(search.folder || search.types.length || search.from || search.to || search.min !== "");
  $("filters-button").textContent = filtered ? "Filters (on)" : "Filters";
}

// ---- running searches -------------------------------------------------------------------

async function run(search, { push = true } = {}) {
  current = search;
  showInControls(search);
  showView("results");
  const url = toUrl(search);
  if (push && url !== (location.search || location.pathname)) history.pushState(null, "", url);
  const mine = ++generation;
  hits = [];
  more = false;
  $("more").hidden = true;
  if (!search.kind) {
    $("results").replaceChildren();
    setStatus("");
    return;
  }
  setStatus(`searching ${describe(search)}…`);
  try {
    loading = fetchPage(search, 0);
    const body = await loading;
    if (mine !== generation) return;
    $("results").replaceChildren();
    append(body.hits);
    const count = body.hits.length === PAGE ? `${PAGE}+` : `${body.hits.length}`;
    setStatus(body.hits.length ? `${count} results for ${describe(search)} (${body.took_ms.toFixed(0)} ms)`
      : `no results for ${describe(search)}${search.min !== "" ? " above the minimum score" : ""}`);
  } catch (error) {
    if (mine !== generation) return;
    $("results").replaceChildren();
    setStatus(error.message, true);
  } finally {
    if (mine === generation) loading = null;
  }
}

function append(page) {
  const grid = $("results");
  for (const hit of page) {
    hits.push(hit);
    grid.append(tile(hit, (card) => viewer.open(hits, [...grid.children].indexOf(card))));
  }
  more = page.length === PAGE;
  $("more").hidden = !more;
}

async function loadMore() {
  if (!more || loading || !current.kind) return;
  const mine = generation;
  try {
    loading = fetchPage(current, hits.length);
    const body = await loading;
    if (mine === generation) append(body.hits);
  } catch (error) {
    if (mine === generation) setStatus(error.message, true);
  } finally {
    if (mine === generation) loading = null;
  }
}

function searchSimilar(hit) {
  return run(Object.assign(emptySearch(), filtersFromControls(), { kind: "similar", id: hit.id, name: fileName(hit.path) }));
}

function searchUpload(file) {
  return run(Object.assign(emptySearch(), filtersFromControls(), { kind: "upload", file }));
}

const viewer = new Viewer({
  onSimilar: searchSimilar,
  onClose: (hit) => {
    const card = hit && document.querySelector(`.hit[data-id="${hit.id}"]`);
    if (card) card.focus();
  },
});

// ---- wiring -----------------------------------------------------------------------------

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  if (!query) {
    setStatus("type something to search for", true);
    return;
  }
  const kind = $("text-in-image").checked ? "words" : "text";
  run(Object.assign(emptySearch(), filtersFromControls(), { kind, query }));
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

// A changed filter or switch (or Enter in a filter's box) runs the current search again with it.
function refilter() {
  const search = Object.assign({}, current, filtersFromControls());
  if (current.kind && toUrl(search) !== toUrl(current)) run(search);
}
$("filters-form").addEventListener("change", refilter);
$("filters-form").addEventListener("submit", (event) => {
  event.preventDefault();
  refilter();
});
for (const id of ["captions", "locate"]) $(id).addEventListener("change", refilter);
$("clear-filters").addEventListener("click", () => {
  const cleared = Object.assign({}, current, { folder: "", types: [], from: "", to: "", min: "" });
  if (current.kind) run(cleared);
  else showInControls(cleared);
});
$("filters-button").addEventListener("click", () => {
  const panel = $("filters");
  panel.hidden = !panel.hidden;
  $("filters-button").setAttribute("aria-expanded", String(!panel.hidden));
});

$("more").addEventListener("click", loadMore);
// Paging by scrolling: the next page is asked for when the end of the grid comes into view.
new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadMore();
}, { rootMargin: "400px" }).observe($("more"));

window.addEventListener("popstate", () => run(fromUrl(location.href), { push: false }));

$("collection-button").addEventListener("click", async () => {
  reindexReady();
  $("collection").showModal();
  try {
    stats = await loadStats();
  } catch (error) {
    $("reindex-status").textContent = error.message;
  }
});
$("collection-close").addEventListener("click", () => $("collection").close());
$("reindex").addEventListener("click", () => reindex(async () => {
  stats = await loadStats();
  fillFilterChoices(stats, current.types);
  if (current.kind) await run(current, { push: false });
}));

$("duplicates-button").addEventListener("click", async () => {
  showView("duplicates");
  setStatus("looking for near-duplicates…");
  try {
    setStatus(await showDuplicates($("threshold").value, (group, index) => viewer.open(group, index)));
  } catch (error) {
    setStatus(error.message, true);
  }
});
$("threshold").addEventListener("change", () => $("duplicates-button").click());
$("back-to-results").addEventListener("click", () => {
  showView("results");
  setStatus(current.kind ? `results for ${describe(current)}` : "");
});

$("api-key").value = apiKey();
$("api-key").addEventListener("change", () => {
  setApiKey($("api-key").value.trim());
  reindexReady();
  start();
});

document.addEventListener("keydown", (event) => {
  if (event.key === "/" && !event.target.closest("input, textarea, dialog")) {
    event.preventDefault();
    $("query").focus();
  }
});

// The controls as the URL (a shared or bookmarked link) sets them, at once: a switch the
// user flips while the collection's facts load keeps its new state. Then the search the URL names.
async function start() {
  const asked = fromUrl(location.href);
  showInControls(asked);
  try {
    stats = await loadStats();
    fillFilterChoices(stats, asked.types);
  } catch (error) {
    $("summary").textContent = "";
    if (!asked.kind) setStatus(error.message, true);
  }
  if (asked.kind) run(asked, { push: false });
}

start();
