// The dashboard: SLA compliance (GET /api/v1/sla/report) and the experience score (GET
// /api/v1/insights/experience), read from the JSON API with the session cookie and drawn with
// Chart.js; each chart has a table beside it with the same figures.
(() => {
  "use strict";
  const charts = {};
  const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)}%`);
  const secs = (v) => {
    if (v === null || v === undefined) return "—";
    const m = Math.round(v / 60);
    return m < 60 ? `${m}m` : `${Math.floor(m / 60)}h ${m % 60}m`;
  };
  function cell(tr, text, head) {
    const el = document.createElement(head ? "th" : "td");
    if (head) el.scope = "col";
    el.textContent = text;
    tr.appendChild(el);
  }
  function table(id, heads, rows) {
    const t = document.getElementById(id);
    const caption = t.querySelector("caption");
    t.replaceChildren(caption);
    const head = t.createTHead().insertRow();
    heads.forEach((h) => cell(head, h, true));
    const body = t.createTBody();
    if (!rows.length) { const tr = body.insertRow(); const td = tr.insertCell(); td.colSpan = heads.length; td.textContent = "No cases in this window."; td.className = "empty"; }
    rows.forEach((r) => { const tr = body.insertRow(); r.forEach((v) => cell(tr, v)); });
  }
  function bars(id, labels, datasets, stacked, max) {
    if (!window.Chart) return;
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), {
      type: "bar",
      data: { labels, datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { stacked }, y: { stacked, beginAtZero: true, max } },
      },
    });
  }
  function sla(id, report) {
    const groups = report.groups;
    bars(`c-${id}`, groups.map((g) => g.label), [
      { label: "met", data: groups.map((g) => g.compliance.met), backgroundColor: "#1b7a3d" },
      { label: "breached", data: groups.map((g) => g.compliance.breached), backgroundColor: "#b3261e" },
      { label: "pending", data: groups.map((g) => g.compliance.pending), backgroundColor: "#8a8f9c" },
    ], true);
    table(`t-${id}`, ["", "cases", "compliance", "first response p50 / p90", "resolution p50 / p90"],
      [...groups, { label: "total", ...report.total }].map((g) => [
        g.label, String(g.cases), pct(g.compliance.share),
        `${secs(g.first_response.wall_seconds.p50)} / ${secs(g.first_response.wall_seconds.p90)}`,
        `${secs(g.resolution.wall_seconds.p50)} / ${secs(g.resolution.wall_seconds.p90)}`,
      ]));
  }
  function eex(id, answer) {
    const items = answer.items;
    bars(`c-${id}`, items.map((i) => i.name), [
      { label: "EEX (0-100)", data: items.map((i) => i.eex), backgroundColor: "#0b50b8" },
    ], false, 100);
    const value = (f) => (f && f.value !== null ? `${Math.round(f.value)} (${f.count})` : "—");
    table(`t-${id}`, ["", "cases", "EEX", "CSAT", "sentiment", "SLA"], items.map((i) => [
      i.name, String(i.cases), i.eex === null ? "—" : String(Math.round(i.eex)),
      value(i.factors.csat), value(i.factors.sentiment), value(i.factors.sla),
    ]));
  }
  async function load() {
    const days = Number(document.getElementById("days").value);
    const to = new Date(), from = new Date(to.getTime() - days * 86400e3);
    const span = `from=${from.toISOString()}&to=${to.toISOString()}`;
    const window_ = `since=${from.toISOString()}&until=${to.toISOString()}`;
    const error = document.getElementById("dash-error");
    const answers = await Promise.all([
      sift.api("GET", `/api/v1/sla/report?group_by=queue&${span}`),
      sift.api("GET", `/api/v1/sla/report?group_by=policy&${span}`),
      sift.api("GET", `/api/v1/insights/experience?by=process&${window_}`),
      sift.api("GET", `/api/v1/insights/experience?by=channel&${window_}`),
    ]);
    const failed = answers.find((a) => !a.ok);
    if (failed) { error.textContent = (failed.data && failed.data.detail) || `Loading failed (${failed.status})`; error.hidden = false; return; }
    error.hidden = true;
    if (!window.Chart) { error.textContent = "The chart library is not installed (run npm ci); the tables show the figures."; error.hidden = false; }
    sla("queue", answers[0].data); sla("policy", answers[1].data);
    eex("process", answers[2].data); eex("channel", answers[3].data);
    document.body.dataset.charts = String(Object.keys(charts).length);
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("days").addEventListener("change", load);
    load();
  });
})();
