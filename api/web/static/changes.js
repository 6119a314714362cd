// The modeler page's two change panels, both over the JSON API: a bulk migration of the live
// instances of one version onto another (a dry run first, whose report lists what can move and
// why the rest cannot; then applying that same pair), and a replay test of a version against
// history (the process's recent cases, or a change request's linked cases) beside the deployed
// version, its report drawn as a summary and a row per replayed signal.
(() => {
  "use strict";
  const { call, el } = window.SiftWorkbench;
  const page = document.getElementById("modeler-page");
  const key = page.dataset.key;
  const path = `/api/v1/processes/${encodeURIComponent(key)}`;

  function status(id, text, bad) {
    const node = document.getElementById(id);
    node.textContent = text;
    node.classList.toggle("error", !!bad);
  }

  function refusal(r) {
    const d = r.data || {};
    return `${d.error || "HTTP " + r.status}: ${d.detail || "the server refused"}`;
  }

  const caseLink = (id) => (id ? el("a", { href: `/cases/${id}`, text: id.slice(-12) }) : "—");
  const instanceLink = (id) => el("a", { href: `/workbench/instances/${id}`, text: id.slice(-12) });

  function table(id, caption, heads, rows) {
    const body = el("tbody");
    for (const row of rows) body.append(row);
    return el(
      "table",
      { class: "grid", id },
      el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col", text: h })))),
      body,
    );
  }

  // --- bulk migration ---------------------------------------------------------------------
  const form = document.getElementById("migrate-form");
  const apply = document.getElementById("migrate-apply");
  let tested = null; // the pair the last dry run reported on, which "Apply" moves

  const pair = () => ({
    from_version: Number(form.elements.from.value),
    to_version: Number(form.elements.to.value),
  });

  function reasonText(reasons) {
    return (reasons || []).map((r) => `${r.element_id ? r.element_id + ": " : ""}${r.reason} (${r.detail})`).join("; ");
  }

  function drawMigration(report) {
    const box = document.getElementById("migrate-report");
    const moved = !report.dry_run;
    const movable = report.movable.map((m) =>
      el("tr", { "data-case": m.case_id || "" }, el("td", {}, caseLink(m.case_id)), el("td", {}, instanceLink(m.instance_id)), el("td", { text: m.stage || "—" })),
    );
    const blocked = report.blocked.map((b) =>
      el(
        "tr",
        { "data-case": b.case_id || "" },
        el("td", {}, caseLink(b.case_id)),
        el("td", {}, instanceLink(b.instance_id)),
        el("td", { text: b.stage || "—" }),
        el("td", { class: "reasons", text: reasonText(b.reasons) }),
      ),
    );
    box.replaceChildren(
      table("migrate-movable", moved ? `Moved onto v${report.to_version}` : `Can move onto v${report.to_version}`, ["Case", "Instance", "Waits at"], movable),
      table("migrate-blocked", moved ? `Stayed on v${report.from_version}` : "Cannot move", ["Case", "Instance", "Waits at", "Why"], blocked),
    );
    if (!movable.length) box.querySelector("#migrate-movable tbody").append(el("tr", {}, el("td", { colspan: "3", class: "empty", text: "None." })));
    if (!blocked.length) box.querySelector("#migrate-blocked tbody").append(el("tr", {}, el("td", { colspan: "4", class: "empty", text: "None." })));
    if (report.more) box.append(el("p", { class: "note", text: "More live instances than one request handles: run it again for the rest." }));
  }

  // the source picker says how many live instances each version has; a migration moves some
  function recount(version, by) {
    const option = form.elements.from.querySelector(`option[value="${version}"]`);
    if (!option) return;
    option.dataset.live = String(Number(option.dataset.live || 0) + by);
    option.textContent = `v${version} · ${option.dataset.live} live`;
  }

  async function migrate(dryRun) {
    const body = { ...pair(), dry_run: dryRun };
    if (body.from_version === body.to_version) return status("migrate-status", "Pick two different versions: the instances of the first move onto the second.", true);
    if (!dryRun && (!tested || tested.from_version !== body.from_version || tested.to_version !== body.to_version)) {
      return status("migrate-status", "Run the dry run of these two versions first.", true);
    }
    status("migrate-status", dryRun ? "Running the dry run…" : "Moving the instances…");
    apply.disabled = true;
    const r = await call("POST", `${path}/migrations`, body);
    if (!r.ok) return status("migrate-status", refusal(r), true);
    const d = r.data;
    drawMigration(d);
    const { movable, blocked } = d.counts;
    if (dryRun) {
      tested = { from_version: d.from_version, to_version: d.to_version };
      apply.disabled = movable === 0;
      status("migrate-status", `Dry run v${d.from_version} → v${d.to_version}: ${movable} can move, ${blocked} cannot. Nothing moved yet.`);
    } else {
      tested = null;
      recount(d.from_version, -movable);
      recount(d.to_version, movable);
      status("migrate-status", `Applied v${d.from_version} → v${d.to_version}: ${movable} moved, ${blocked} stayed.`, blocked > 0 && movable === 0);
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    migrate(true);
  });
  apply.addEventListener("click", () => migrate(false));
  for (const pick of [form.elements.from, form.elements.to]) {
    pick.addEventListener("change", () => {
      tested = null;
      apply.disabled = true;
    });
  }

  // --- replay against history -------------------------------------------------------------
  const replay = document.getElementById("replay-form");
  const limit = replay.elements.limit;
  replay.elements.against.addEventListener("change", () => {
    limit.disabled = replay.elements.against.value !== "history";
  });

  function where(run, routed) {
    if (!run) return `not opened here (routed: ${routed.action}${routed.process_key ? " " + routed.process_key : ""})`;
    if (run.incident) return `incident at ${run.waits_at || "?"}`;
    if (run.status !== "running" && !run.waits_at) return run.status;
    return run.waits_at_title ? `${run.waits_at_title} (${run.waits_at})` : run.waits_at || run.status;
  }

  const slaText = (run) =>
    run ? Object.entries(run.sla || {}).map(([t, v]) => `${t.replace("_", " ")} ${v}`).join(", ") || "—" : "—";

  function summaryRows(report) {
    const c = report.summary.candidate;
    const d = report.summary.deployed;
    const waits = (s) => Object.entries(s.waits_at).map(([k, n]) => `${k}: ${n}`).join(", ") || "—";
    const sla = (s, t) => `${s.sla[t].met} met, ${s.sla[t].breached} breached, ${s.sla[t].pending} pending`;
    const row = (label, a, b) => el("tr", {}, el("th", { scope: "row", text: label }), el("td", { text: String(a) }), el("td", { text: String(b) }));
    return [
      row("Open a case", c.opens, d.opens),
      row("Wait at", waits(c), waits(d)),
      row("Incidents", c.incidents, d.incidents),
      row("First response", sla(c, "first_response"), sla(d, "first_response")),
      row("Resolution", sla(c, "resolution"), sla(d, "resolution")),
    ];
  }

  function drawReplay(report) {
    const box = document.getElementById("replay-report");
    const v = report.version;
    const dv = report.deployed_version;
    const rows = report.cases.map((r) =>
      el(
        "tr",
        { class: r.differs ? "differs" : null, "data-case": r.case_id },
        el("td", {}, caseLink(r.case_id)),
        el("td", { text: where(r.candidate, r.routed) }),
        el("td", { text: where(r.deployed, r.routed) }),
        el("td", { text: slaText(r.candidate) }),
        el("td", { text: slaText(r.deployed) }),
        el("td", { text: r.differs ? "differs" : "same" }),
      ),
    );
    box.replaceChildren(
      table("replay-summary", `Summary: v${v} beside the deployed v${dv}`, ["", `v${v}`, `deployed v${dv}`], summaryRows(report)),
      table("replay-cases", "Each replayed signal", ["Real case", `v${v} waits at`, `v${dv} waits at`, `SLA under v${v}`, `SLA under v${dv}`, "Outcome"], rows),
    );
    if (!rows.length) box.querySelector("#replay-cases tbody").append(el("tr", {}, el("td", { colspan: "6", class: "empty", text: "No signal to replay." })));
  }

  replay.addEventListener("submit", async (e) => {
    e.preventDefault();
    const version = Number(replay.elements.version.value);
    const against = replay.elements.against.value;
    status("replay-status", "Replaying…");
    const r =
      against === "history"
        ? await call("POST", `${path}/versions/${version}/replay-test`, { limit: Number(limit.value) || 50 })
        : await call("POST", `/api/v1/change-requests/${encodeURIComponent(against)}/replay-test`, { version });
    if (!r.ok) return status("replay-status", refusal(r), true);
    const report = against === "history" ? r.data : r.data.test_report;
    drawReplay(report);
    const of = against === "history" ? `of ${report.history} case(s) of ${key}` : `of ${report.linked} linked case(s)`;
    status(
      "replay-status",
      `Replayed ${report.signals} signal(s) ${of} against v${report.version} and the deployed v${report.deployed_version}: ${report.summary.differing} differ.`,
    );
  });
})();
