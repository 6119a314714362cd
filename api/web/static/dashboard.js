// The dashboard: volume and sentiment over time of the busiest topics and sources (GET
// /api/v1/insights/series, one series each), the day's top issues (GET /api/v1/insights/top-issues),
// SLA compliance (GET /api/v1/sla/report) and the experience score (GET
// /api/v1/insights/experience), read from the JSON API with the session cookie and drawn with
// Chart.js; each chart has a table with its figures (the sentiment charts share their volume's).
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
  const COLOURS = ["#0b50b8", "#b3261e", "#1b7a3d", "#8a4b00", "#6b2fa0", "#00707a"];
  const BUCKET = { 1: "1h", 7: "6h", 30: "1d", 90: "1d" };
  function lines(id, labels, datasets, min, max) {
    if (!window.Chart) return;
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), {
      type: "line",
      data: { labels, datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, spanGaps: false,
        elements: { point: { radius: 1.5 } },
        scales: { y: { beginAtZero: min === undefined, min, max } },
      },
    });
  }
  function stamp(iso, bucket) {
    const d = new Date(iso), p = (n) => String(n).padStart(2, "0");
    const day = `${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`;
    return bucket === "1d" ? day : `${day} ${p(d.getUTCHours())}:00`;
  }
  function trendCharts(kind, answers, bucket) {
    const labels = answers.length ? answers[0].data.points.map((p) => stamp(p.start, bucket)) : [];
    const set = (a, i, value) => ({
      label: a.data.key, data: a.data.points.map(value), borderColor: COLOURS[i % COLOURS.length],
      backgroundColor: COLOURS[i % COLOURS.length], borderWidth: 2,
    });
    lines(`c-${kind}-volume`, labels, answers.map((a, i) => set(a, i, (p) => p.volume)));
    lines(`c-${kind}-sentiment`, labels, answers.map((a, i) => set(a, i, (p) => p.sentiment)), -1, 1);
    table(`t-${kind}`, ["", "mentions", "negative", "mean sentiment"], answers.map((a) => {
      const pts = a.data.points, volume = pts.reduce((n, p) => n + p.volume, 0);
      const negative = pts.reduce((n, p) => n + p.negative, 0);
      const score = pts.reduce((n, p) => n + (p.sentiment === null ? 0 : p.sentiment * p.volume), 0);
      return [a.data.key, String(volume), volume ? pct(negative / volume) : "—", volume ? (score / volume).toFixed(2) : "—"];
    }));
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function issues(answer) {
    const list = document.getElementById("issues");
    list.replaceChildren();
    if (!answer.items.length) list.appendChild(el("li", "No mentions with a topic today yet.", "note"));
    for (const issue of answer.items) {
      const li = el("li");
      li.dataset.topic = issue.topic;
      const head = el("p");
      head.append(el("b", issue.topic), el("span",
        ` · ${issue.volume} mention${issue.volume === 1 ? "" : "s"}, ${pct(issue.negative_share)} negative · yesterday ${issue.previous_day_volume}`
        + (issue.trends.length ? ` · ${issue.trends.length} spike${issue.trends.length > 1 ? "s" : ""} today` : ""), "note"));
      const words = el("p", undefined, "words");
      words.append(el("span", "Their words: ", "note"));
      for (const w of issue.words) words.append(el("span", `${w.word} ×${w.count}`, "badge"), " ");
      if (!issue.words.length) words.append(el("span", "—", "note"));
      const samples = el("ul", undefined, "recent");
      for (const m of issue.samples) {
        const item = el("li");
        item.append(el("span", `${m.source}${m.sentiment ? " · " + m.sentiment : ""} `, "note"), m.text);
        if (m.case_id) {
          const a = el("a", "case");
          a.href = `/cases/${m.case_id}`;
          item.append(" ", a);
        }
        samples.append(item);
      }
      li.append(head, words, samples);
      list.append(li);
    }
  }
  async function load() {
    const days = Number(document.getElementById("days").value);
    const to = new Date(), from = new Date(to.getTime() - days * 86400e3);
    const span = `from=${from.toISOString()}&to=${to.toISOString()}`;
    const window_ = `since=${from.toISOString()}&until=${to.toISOString()}`;
    const error = document.getElementById("dash-error");
    const box = document.getElementById("trend-charts");
    const topics = JSON.parse(box.dataset.topics), sources = JSON.parse(box.dataset.sources);
    const bucket = BUCKET[days] || "1d";
    const seriesOf = (kind, key) => sift.api("GET",
      `/api/v1/insights/series?${kind}=${encodeURIComponent(key)}&bucket=${bucket}&${window_}`);
    const answers = await Promise.all([
      ...topics.map((t) => seriesOf("topic", t)),
      ...sources.map((t) => seriesOf("source", t)),
      sift.api("GET", "/api/v1/insights/top-issues"),
      sift.api("GET", `/api/v1/sla/report?group_by=queue&${span}`),
      sift.api("GET", `/api/v1/sla/report?group_by=policy&${span}`),
      sift.api("GET", `/api/v1/insights/experience?by=process&${window_}`),
      sift.api("GET", `/api/v1/insights/experience?by=channel&${window_}`),
    ]);
    const failed = answers.find((a) => !a.ok);
    if (failed) { error.textContent = (failed.data && failed.data.detail) || `Loading failed (${failed.status})`; error.hidden = false; return; }
    error.hidden = true;
    if (!window.Chart) { error.textContent = "The chart library is not installed (run npm ci); the tables show the figures."; error.hidden = false; }
    trendCharts("topic", answers.splice(0, topics.length), bucket);
    trendCharts("source", answers.splice(0, sources.length), bucket);
    issues(answers.shift().data);
    sla("queue", answers[0].data); sla("policy", answers[1].data);
    eex("process", answers[2].data); eex("channel", answers[3].data);
    document.body.dataset.charts = String(Object.keys(charts).length);
  }
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("days").addEventListener("change", load);
    load();
  });
})();
