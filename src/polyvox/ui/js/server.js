// The Server tab: models (loaded or not, where they run), queue depth, jobs in flight and
// recent real-time factors, from GET /v1/status; refreshed while the tab is shown.

import { getJSON } from "./api.js";
import { el } from "./controls.js";

const $ = (id) => document.getElementById(id);
let timer = null;

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function spark(values) {
  // a tiny bar chart of the recent RTFs (1.0 = real time), as text for screen readers too
  const box = el("span", { class: "spark", "aria-hidden": "true" });
  const top = Math.max(1, ...values);
  for (const value of values.slice(-20)) {
    const bar = el("span", { class: value > 1 ? "slow" : "" });
    bar.style.height = `${Math.max(2, Math.round((value / top) * 100))}%`;
    box.append(bar);
  }
  return box;
}

export async function refresh() {
  const status = await getJSON("v1/status");
  $("server-summary").textContent = `polyvox ${status.version} · ${status.status}${status.preload_error ? ` (${status.preload_error})` : ""}`;
  const rows = status.models.map((m) => {
    const rtf = median(m.recent_rtf);
    const where = m.location ? `${m.placement}: ${m.location}` : m.placement;
    const cells = [
      ["Kind", `${m.kind} · ${m.engine}`],
      ["Runs", `${where} (${m.device})`],
      ["State", m.loaded ? "loaded" : "not loaded"],
      ["In flight / slots", `${m.in_flight} / ${m.slots}`],
      ["Queue", String(m.queue_depth)],
    ].map(([name, text]) => el("td", { "data-label": name, text, class: text === "loaded" ? "ok" : "" }));
    const value = el("span", {}, rtf === null ? "–" : `${rtf.toFixed(3)} `);
    if (m.recent_rtf.length) value.append(spark(m.recent_rtf));
    const recent = el("td", { "data-label": "Recent RTF" }, value);
    return el("tr", { "data-model": m.id }, el("th", { scope: "row", text: m.id }), ...cells, recent);
  });
  $("server-models").replaceChildren(...rows);
  $("server-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  return status;
}

function poll() {
  refresh().catch((err) => {
    $("server-updated").textContent = `Not updated: ${err.message}`;
    if (err.status === 401) watch(false); // the key prompt is up; start() polls again
  });
}

export function watch(active) {
  clearInterval(timer);
  timer = null;
  if (active) {
    poll();
    timer = setInterval(poll, 2000);
  }
}
