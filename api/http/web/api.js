// Calls to the clipdex API: the key sent along when the user gave one, errors as messages.

const KEY = "clipdex-api-key";

export const apiKey = () => localStorage.getItem(KEY) || "";

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

function headers(extra) {
  const key = apiKey();
  return Object.assign(key ? { "X-API-Key": key } : {}, extra || {});
}

export async function call(url, options = {}) {
  let response;
  try {
    response = await fetch(url, Object.assign({}, options, { headers: headers(options.headers) }));
  } catch (error) {
    throw new Error("cannot reach the clipdex server: is `clipdex serve` still running?");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error((body && body.error && body.error.message) || `the server answered HTTP ${response.status}`);
  }
  return body;
}

export function postJson(url, data) {
  return call(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
}

export function postForm(url, fields) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== "") form.append(name, item);
    }
  }
  return call(url, { method: "POST", body: form });
}

// An <img src> cannot send the API key: when the user gave one, pictures are fetched with
// it and shown from a blob URL.
export function showPicture(img, url) {
  if (!apiKey()) {
    img.src = url;
    return;
  }
  fetch(url, { headers: headers() })
    .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(response.status))))
    .then((blob) => { img.src = URL.createObjectURL(blob); })
    .catch(() => { img.alt = "picture unavailable"; });
}
