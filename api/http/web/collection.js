// What the collection holds (the summary line and the collection panel), the filter choices
// it offers, and re-indexing it with a live progress bar.

import { apiKey, call } from "./api.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 400;

function fact(list, name, value) {
  const term = document.createElement("dt");
  term.textContent = name;
  const text = document.createElement("dd");
  text.textContent = value;
  list.append(term, text);
}

export async function loadStats() {
  const stats = await call("/v1/stats");
  $("summary").textContent = `${stats.indexed.toLocaleString()} images · ${stats.model || "no model yet"}`
    + (stats.failed ? ` · ${stats.failed} failed` : "");
  const list = $("collection-facts");
  list.replaceChildren();
  fact(list, "images indexed", stats.indexed.toLocaleString());
  fact(list, "failed", stats.failed.toLocaleString());
  if (stats.pending) fact(list, "waiting", stats.pending.toLocaleString());
  fact(list, "model", stats.model || "none yet");
  if (stats.index) {
    const lists = stats.index.lists ? `, ${stats.index.lists} lists, ${stats.index.nprobe} searched` : "";
    fact(list, "index", `${stats.index.type}${lists}, ${stats.index.vectors.toLocaleString()} vectors`
      + (stats.index.shards > 1 ? `, ${stats.index.shards} shards` : ""));
  }
  fact(list, "folders", stats.roots.join(", ") || "none yet");
  fact(list, "file types", Object.entries(stats.file_types).map(([t, n]) => `${t || "(none)"} ${n}`).join(", ") || "none");
  if (stats.ocr) fact(list, "words read", `${stats.ocr.with_text} of ${stats.ocr.read} pictures hold text (${stats.ocr.engine})`);
  fact(list, "texts", stats.texts.toLocaleString());
  fact(list, "last indexed", stats.last_indexed ? `${stats.last_indexed.replace("T", " ")} UTC` : "never");
  const failures = $("failures");
  failures.replaceChildren();
  for (const failure of stats.failures) {
    const item = document.createElement("li");
    const path = document.createElement("code");
    path.textContent = failure.path;
    item.append(path, `: ${failure.error || "unknown reason"}`);
    failures.append(item);
  }
  $("failures-heading").hidden = !stats.failures.length;
  if (stats.failed > stats.failures.length) {
    const more = document.createElement("li");
    more.textContent = `… and ${stats.failed - stats.failures.length} more (clipdex status --json lists them all)`;
    failures.append(more);
  }
  return stats;
}

export function reindexReady() {
  const button = $("reindex");
  button.disabled = !apiKey();
  button.title = apiKey() ? "read new and changed files of the collection's folders" : "needs the API key (above)";
}

// Starts the job and follows it: the bar moves with the job's count; ``onDone`` runs once
// the new index is served.
export async function reindex(onDone) {
  const bar = $("reindex-progress"), said = $("reindex-status");
  $("reindex").disabled = true;
  said.textContent = "starting…";
  try {
    let job = await call("/v1/reindex", { method: "POST" });
    bar.hidden = false;
    bar.removeAttribute("value");
    while (job.state === "queued" || job.state === "running") {
      if (job.total) {
        bar.max = job.total;
        bar.value = job.done;
        said.textContent = `${job.done} of ${job.total}`;
      } else {
        said.textContent = "looking for new and changed files…";
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await call(`/v1/jobs/${job.id}`);
    }
    if (job.state === "failed") throw new Error(job.error || "the re-index failed");
    bar.max = Math.max(1, job.total);
    bar.value = bar.max;
    const report = job.report || {};
    said.textContent = `done: ${report.new ?? 0} new, ${report.changed ?? 0} changed, ${report.removed ?? 0} removed, `
      + `${report.failed ?? 0} failed`;
    await onDone();
  } catch (error) {
    said.textContent = error.message;
    said.classList.add("error");
  } finally {
    reindexReady();
  }
}

// The filter panel's choices: the collection's folders and file types.
export function fillFilterChoices(stats, chosenTypes) {
  const folders = $("folders");
  folders.replaceChildren();
  for (const root of stats.roots) {
    const option = document.createElement("option");
    option.value = root;
    folders.append(option);
  }
  const types = $("types");
  types.replaceChildren();
  for (const [type, count] of Object.entries(stats.file_types)) {
    if (!type) continue;
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "type";
    box.value = type;
    box.checked = chosenTypes.includes(type);
    label.append(box, ` ${type} (${count})`);
    types.append(label);
  }
}
