// The viewer: one picture large, with what the collection knows of it and what can be
// asked about it (similar images, texts that match, classify, caption, the words in it);
// the arrow keys move through the results it was opened on, Esc closes it.

import { apiKey, call, postForm, postJson, showPicture } from "./api.js";
import { fileName } from "./grid.js";
import { isTextLine, regionsOverlay } from "./overlay.js";

const $ = (id) => document.getElementById(id);

function kilobytes(size) {
  return size >= 1 << 20 ? `${(size / (1 << 20)).toFixed(1)} MB` : `${Math.max(1, Math.round(size / 1024))} kB`;
}

export class Viewer {
  constructor({ onSimilar, onClose }) {
    this.dialog = $("viewer");
    this.hits = [];
    this.index = 0;
    this.onSimilar = onSimilar;
    $("viewer-close").addEventListener("click", () => this.dialog.close());
    $("viewer-prev").addEventListener("click", () => this.move(-1));
    $("viewer-next").addEventListener("click", () => this.move(1));
    $("viewer-similar").addEventListener("click", () => {
      const hit = this.hit();
      this.dialog.close();
      this.onSimilar(hit);
    });
    $("viewer-texts").addEventListener("click", () => this.matchingTexts());
    $("viewer-original").addEventListener("click", (event) => {
      if (!apiKey()) return; // a plain link; with a key the file is fetched with it
      event.preventDefault();
      const shown = window.open("", "_blank");
      const img = new Image();
      img.addEventListener("load", () => { if (shown) shown.location.href = img.src; });
      showPicture(img, this.hit().image_url);
    });
    $("viewer-caption-button").addEventListener("click", () => this.caption());
    $("classify-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.classify();
    });
    this.dialog.addEventListener("close", () => onClose(this.hit()));
    this.dialog.addEventListener("keydown", (event) => {
      if (event.target.closest("input, textarea")) return;
      if (event.key === "ArrowRight") this.move(1);
      else if (event.key === "ArrowLeft") this.move(-1);
    });
  }

  hit() {
    return this.hits[this.index];
  }

  open(hits, index) {
    this.hits = hits;
    this.show(index);
    if (!this.dialog.open) this.dialog.showModal();
    $("viewer-close").focus();
  }

  move(step) {
    const next = this.index + step;
    if (next >= 0 && next < this.hits.length) this.show(next);
  }

  show(index) {
    this.index = index;
    const hit = this.hit();
    this.token = {}; // answers still coming for the picture shown before are dropped
    $("viewer-title").textContent = fileName(hit.path);
    $("viewer-position").textContent = `${index + 1} of ${this.hits.length}`;
    $("viewer-prev").disabled = index === 0;
    $("viewer-next").disabled = index === this.hits.length - 1;
    const img = $("viewer-image");
    img.removeAttribute("src");
    img.alt = hit.caption || fileName(hit.path);
    showPicture(img, hit.image_url);
    $("viewer-original").href = hit.image_url;
    this.facts(hit, null);
    this.draw(hit.regions || [], hit.heatmap);
    $("viewer-caption").textContent = hit.caption || "";
    $("viewer-said").textContent = "";
    $("viewer-answers").replaceChildren();
    $("viewer-message").textContent = "";
    this.details(hit, this.token);
  }

  facts(hit, info) {
    const rows = [["path", hit.path]];
    if (hit.width && hit.height) rows.push(["size", `${hit.width} × ${hit.height}${info ? `, ${kilobytes(info.size)}` : ""}`]);
    rows.push(["date taken", hit.date ? hit.date.replace("T", " ") : "unknown"]);
    if (hit.score !== undefined && hit.score !== null) rows.push(["score", hit.score.toFixed(3)]);
    const list = $("viewer-facts");
    list.replaceChildren();
    for (const [name, value] of rows) {
      const term = document.createElement("dt");
      term.textContent = name;
      const text = document.createElement("dd");
      text.textContent = value;
      list.append(term, text);
    }
  }

  draw(regions, heatmap) {
    const stage = $("viewer-stage");
    stage.querySelectorAll("svg.regions").forEach((svg) => svg.remove());
    const hit = this.hit();
    if ((regions.length || heatmap) && hit.width && hit.height) stage.append(regionsOverlay(hit.width, hit.height, regions, heatmap));
  }

  // The file's size and the words read in it, asked for when the picture is shown.
  async details(hit, token) {
    const [info, text] = await Promise.allSettled([call(`/v1/images/${hit.id}/info`), call(`/v1/images/${hit.id}/text`)]);
    if (token !== this.token) return;
    if (info.status === "fulfilled") this.facts(hit, info.value);
    if (text.status === "fulfilled" && text.value.lines.length) {
      $("viewer-said").textContent = text.value.lines.map((line) => `“${line.label}”`).join(" ");
      const others = (hit.regions || []).filter((r) => !isTextLine(r));
      this.draw(others.concat(text.value.lines), hit.heatmap);
    }
  }

  async ask(work) {
    const token = this.token;
    $("viewer-message").textContent = "asking…";
    try {
      const shown = await work();
      if (token === this.token) $("viewer-message").textContent = shown || "";
    } catch (error) {
      if (token === this.token) $("viewer-message").textContent = error.message;
    }
  }

  answers(rows) {
    const list = $("viewer-answers");
    list.replaceChildren();
    for (const [text, score] of rows) {
      const item = document.createElement("li");
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = score;
      item.append(value, " ", text);
      list.append(item);
    }
  }

  caption() {
    const token = this.token;
    return this.ask(async () => {
      const body = await postForm("/v1/caption", { ids: this.hit().id });
      const item = body.captions[0];
      if (item.caption === null) throw new Error(item.error || "the captioner wrote nothing");
      if (token === this.token) $("viewer-caption").textContent = item.caption;
      return `captioned by ${body.captioner}`;
    });
  }

  matchingTexts() {
    return this.ask(async () => {
      const body = await postJson("/v1/search/texts", { image_id: this.hit().id, k: 5 });
      this.answers(body.hits.map((h) => [h.text, h.score.toFixed(3)]));
      return body.hits.length ? "texts that match this picture:" : "the collection holds no texts yet (clipdex index-texts)";
    });
  }

  classify() {
    const labels = $("classify-labels").value.split(",").map((l) => l.trim()).filter(Boolean);
    if (!labels.length) {
      $("viewer-message").textContent = "type labels, separated by commas";
      return Promise.resolve();
    }
    return this.ask(async () => {
      const body = await postJson("/v1/classify", { image_ids: [this.hit().id], labels });
      this.answers(body.results[0].labels.map((l) => [l.label, `${(100 * l.probability).toFixed(1)} %`]));
      return "the labels, most probable first:";
    });
  }
}
