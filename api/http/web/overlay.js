// Regions (text lines read in a picture, located things) and the heat map, drawn over the
// whole picture: an SVG in the picture's own pixel coordinates, fitted as the picture is.

const SVG = "http://www.w3.org/2000/svg";

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

export function isTextLine(region) {
  return Boolean(region.quad) || region.method.startsWith("rapidocr") || region.method.startsWith("tesseract");
}

export function regionsOverlay(width, height, regions, heatmap) {
  const svg = element("svg", { class: "regions", viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "xMidYMid meet", "aria-hidden": "true" });
  const stroke = Math.max(2, Math.min(width, height) / 120);
  if (heatmap && heatmap.length) {
    // One translucent cell per patch, stretched over the whole picture.
    const rows = heatmap.length, cols = heatmap[0].length;
    const heat = element("g", { class: "heat", transform: `scale(${width / cols} ${height / rows})` });
    heatmap.forEach((row, y) => row.forEach((value, x) => {
      if (value >= 0.05) {
        heat.append(element("rect", { x, y, width: 1, height: 1, "fill-opacity": (0.55 * value).toFixed(2) }));
      }
    }));
    svg.append(heat);
  }
  for (const region of regions || []) {
    let shape;
    if (region.quad) {
      shape = element("polygon", { points: region.quad.map((p) => p.join(",")).join(" ") });
    } else {
      const [x0, y0, x1, y1] = region.box;
      shape = element("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
    }
    shape.setAttribute("class", `region ${region.method}`);
    shape.setAttribute("stroke-width", stroke);
    const title = element("title", {});
    title.textContent = region.label;
    shape.append(title);
    svg.append(shape);
  }
  return svg;
}
