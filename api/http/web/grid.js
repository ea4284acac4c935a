// The results grid: each picture whole in a square tile (letterboxed), its score on hover,
// what it says (OCR) and its caption under it; a tile opens the viewer.

import { showPicture } from "./api.js";
import { isTextLine, regionsOverlay } from "./overlay.js";

export const fileName = (path) => path.split("/").pop();

export function tile(hit, open) {
  const card = document.createElement("figure");
  card.className = "hit";
  card.dataset.id = hit.id;
  card.dataset.path = hit.path;
  card.tabIndex = 0;
  card.setAttribute("role", "button");
  card.setAttribute("aria-label", `open ${fileName(hit.path)} (score ${hit.score.toFixed(3)})`);
  const frame = document.createElement("div");
  frame.className = "frame";
  const img = document.createElement("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.alt = hit.caption || fileName(hit.path);
  showPicture(img, hit.thumbnail_url);
  frame.append(img);
  if (((hit.regions && hit.regions.length) || hit.heatmap) && hit.width && hit.height) {
    frame.append(regionsOverlay(hit.width, hit.height, hit.regions, hit.heatmap));
  }
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = hit.score.toFixed(3);
  frame.append(score);
  const meta = document.createElement("figcaption");
  meta.className = "meta";
  meta.textContent = fileName(hit.path);
  meta.title = hit.path;
  card.append(frame, meta);
  const lines = (hit.regions || []).filter(isTextLine);
  if (lines.length) {
    // What the picture says, read by OCR: set as text, never as HTML.
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
  card.addEventListener("click", () => open(card));
  card.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open(card);
    }
  });
  return card;
}
