// A search as one plain object: what the URL says (so it can be bookmarked and shared) and
// how to fetch a page of its results from the API.

import { call, postForm, postJson } from "./api.js";

export const PAGE = 24;

// kind: "text" (query), "words" (the words in the pictures), "similar" (id), "upload" (file),
// or "" (nothing asked yet). Filters and switches go with every kind.
export function emptySearch() {
  return { kind: "", query: "", id: null, name: "", file: null, folder: "", types: [], from: "", to: "",
    min: "", captions: false, locate: false };
}

export function fromUrl(href) {
  const p = new URL(href).searchParams;
  const search = Object.assign(emptySearch(), {
    folder: p.get("folder") || "", types: p.getAll("type"), from: p.get("from") || "", to: p.get("to") || "",
    min: p.get("min") || "", captions: p.get("captions") === "1", locate: p.get("where") === "1",
  });
  if (p.get("like") && /^\d+$/.test(p.get("like"))) {
    Object.assign(search, { kind: "similar", id: Number(p.get("like")), name: p.get("name") || "" });
  } else if (p.get("q")) {
    Object.assign(search, { kind: p.get("in") === "words" ? "words" : "text", query: p.get("q") });
  }
  return search;
}

// An uploaded picture cannot go into a link: its search keeps only the filters there.
export function toUrl(search) {
  const p = new URLSearchParams();
  if (search.kind === "text" || search.kind === "words") p.set("q", search.query);
  if (search.kind === "words") p.set("in", "words");
  if (search.kind === "similar") {
    p.set("like", search.id);
    if (search.name) p.set("name", search.name);
  }
  if (search.folder) p.set("folder", search.folder);
  for (const type of search.types) p.append("type", type);
  if (search.from) p.set("from", search.from);
  if (search.to) p.set("to", search.to);
  if (search.min !== "") p.set("min", search.min);
  if (search.captions) p.set("captions", "1");
  if (search.locate) p.set("where", "1");
  const query = p.toString();
  return query ? `?${query}` : location.pathname;
}

export function describe(search) {
  if (search.kind === "words") return `pictures that say “${search.query}”`;
  if (search.kind === "text") return `“${search.query}”`;
  if (search.kind === "similar") return `images like ${search.name || `#${search.id}`}`;
  if (search.kind === "upload") return search.file.name;
  return "";
}

function filterFields(search) {
  return {
    folder: search.folder || null,
    file_types: search.types.length ? search.types : null,
    date_from: search.from ? `${search.from}T00:00:00` : null,
    date_to: search.to ? `${search.to}T23:59:59` : null,
  };
}

export function fetchPage(search, offset) {
  const minScore = search.min === "" ? null : Number(search.min);
  const fields = filterFields(search);
  if (search.kind === "text" || search.kind === "words") {
    const active = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
    const body = { k: PAGE, offset, caption: search.captions, min_score: minScore,
      filters: Object.keys(active).length ? active : null };
    if (search.kind === "words") body.text_in_image = search.query;
    else Object.assign(body, { query: search.query, locate: search.locate });
    return postJson("/v1/search/text", body);
  }
  const common = Object.assign({ k: PAGE, offset, caption: search.captions, locate: search.locate,
    min_score: minScore }, fields);
  if (search.kind === "upload") return postForm("/v1/search/image", Object.assign({ file: search.file }, common));
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(common)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined) query.append(name, item);
    }
  }
  return call(`/v1/images/${search.id}/similar?${query}`);
}
