// The duplicates view: groups of near-identical pictures, largest first, each a row of
// tiles scored by their likeness to the group's first picture.

import { call } from "./api.js";
import { tile } from "./grid.js";

const $ = (id) => document.getElementById(id);

export async function showDuplicates(threshold, open) {
  const body = await call(`/v1/duplicates?threshold=${threshold}&limit=200`);
  const groups = $("duplicate-groups");
  groups.replaceChildren();
  body.groups.forEach((group, number) => {
    const section = document.createElement("section");
    section.className = "group";
    const heading = document.createElement("h3");
    heading.textContent = `group ${number + 1}: ${group.files.length} pictures`;
    const row = document.createElement("div");
    row.className = "grid";
    for (const hit of group.files) row.append(tile(hit, (card) => open(group.files, [...row.children].indexOf(card))));
    section.append(heading, row);
    groups.append(section);
  });
  const shown = body.groups.length < body.total_groups ? ` (the largest ${body.groups.length} shown)` : "";
  return `${body.total_groups} groups of near-duplicates at likeness ≥ ${body.threshold}${shown}`;
}
