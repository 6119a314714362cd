// One process instance on its version's diagram (bpmn-js viewer): completed, active and failed
// elements marked, and its data, timers and incidents beside it; an open incident can be retried.
(() => {
  "use strict";
  const { call, say, el } = window.SiftWorkbench;
  const page = document.getElementById("instance-page");
  const id = page.dataset.id;
  const viewer = new window.BpmnJS({ container: "#canvas", moddleExtensions: { sift: window.SiftWorkbench.SIFT_NS } });
  window.siftViewer = viewer;
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");
  let marked = [];

  async function load() {
    const r = await call("GET", `/api/v1/instances/${id}`);
    if (!r.ok) return say(`${(r.data || {}).detail || "HTTP " + r.status}`, true);
    const inst = r.data;
    document.getElementById("instance-status").textContent = inst.status;
    for (const [eid, kind] of marked) canvas.removeMarker(eid, kind);
    overlays.remove({ type: "sift-failed" });
    marked = [];
    const put = (eid, kind) => { if (registry.get(eid)) { canvas.addMarker(eid, kind); marked.push([eid, kind]); } };
    for (const e of inst.completed) if (!inst.active.includes(e) && !inst.failed.includes(e)) put(e, "sift-completed");
    for (const e of inst.active) put(e, "sift-active");
    for (const e of inst.failed) {
      put(e, "sift-failed");
      if (registry.get(e)) overlays.add(e, "sift-failed", { position: { top: -14, right: 14 }, html: el("div", { class: "badge-overlay sift-failed", text: "incident" }) });
    }
    const waits = document.getElementById("waits");
    waits.replaceChildren(...(inst.waiting_at.length ? inst.waiting_at.map((w) => el("li", { "data-element": w, text: name(w) })) : [el("li", { class: "note", text: inst.status === "completed" ? "Nothing: it completed." : "Nothing." })]));
    const timers = document.getElementById("timers");
    timers.replaceChildren(...(inst.timers.length ? inst.timers.map((t) => el("li", { text: `${t.kind} · ${(t.data && t.data.element_id) || t.task_id || ""} · due ${t.due_at} · ${t.status}` })) : [el("li", { class: "note", text: "No timer." })]));
    document.getElementById("data").textContent = JSON.stringify(inst.data, null, 2);
    const box = document.getElementById("incidents");
    box.replaceChildren();
    if (!inst.incidents.length) box.append(el("p", { class: "note", text: "No incident." }));
    for (const i of inst.incidents) {
      const item = el("div", { class: "panel incident", "data-incident": i.id },
        el("p", {}, el("strong", { text: `${i.error} at ${i.element_name || i.element_id}` }), ` · ${i.status} · ${i.attempts} attempt(s)`),
        el("p", { text: i.message }));
      if (i.status === "open") {
        const dataId = `retry-data-${i.id}`;
        const data = el("textarea", { id: dataId, rows: "3", class: "code" });
        data.value = "{}";
        const status = el("p", { role: "status" });
        const retry = el("button", { type: "button", class: "primary", text: "Retry", onclick: async () => {
          let merged;
          try { merged = JSON.parse(data.value || "{}"); } catch (err) { status.textContent = `Not JSON: ${err.message}`; return; }
          status.textContent = "Retrying…";
          const res = await call("POST", `/api/v1/incidents/${i.id}:retry`, { data: merged });
          status.textContent = res.ok ? (res.data.status === "resolved" ? "Resolved." : `Failed again: ${res.data.message}`) : `${(res.data || {}).detail || res.status}`;
          await load();
        } });
        item.append(el("label", { for: dataId, text: "Data to merge before the retry (JSON)" }), data, retry, status);
      }
      box.append(item);
    }
    say(`Status ${inst.status}; waits at ${inst.waiting_at.join(", ") || "nothing"}.`);
  }

  function name(eid) {
    const e = registry.get(eid);
    return e && e.businessObject.name ? `${e.businessObject.name} (${eid})` : eid;
  }

  (async () => {
    const r = await fetch(`/api/v1/processes/${encodeURIComponent(page.dataset.key)}/versions/${page.dataset.version}/xml`, { credentials: "same-origin" });
    try {
      await viewer.importXML(await r.text());
      canvas.zoom("fit-viewport");
    } catch (err) {
      say(`The diagram cannot be drawn: ${err.message}`, true);
    }
    await load();
  })();
})();
