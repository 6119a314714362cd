// The BPMN modeler page: bpmn-js (npm, served from node_modules) edits a stored version; the
// side panel edits Sift's properties (a user task's form with its live preview, a service
// task's operator, a script, a timer's expression, a flow's condition) through bpmn-js's
// modeling commands, so they undo like any other edit. The server validates, keeps unfinished
// work as the key's work-in-progress draft (whatever its problems; never deployable), stores a
// version through the validated upload, diffs it against the deployed one and deploys; the page
// marks what it answers on the diagram.
(() => {
  "use strict";
  const W = window.SiftWorkbench;
  const { call, fileForm, say, el } = W;
  const page = document.getElementById("modeler-page");
  const key = page.dataset.key;
  const number = Number(page.dataset.version);
  const deployed = page.dataset.deployed ? Number(page.dataset.deployed) : null;
  const editingDraft = page.dataset.draft === "1";
  const draftBase = page.dataset.base ? Number(page.dataset.base) : null; // what a draft was opened from
  const processPath = `/api/v1/processes/${encodeURIComponent(key)}`;
  const pageUrl = (query) => `/workbench/processes/${encodeURIComponent(key)}?${query}`;
  const MARKS = ["sift-problem", "sift-added", "sift-changed", "sift-removed"];

  const modeler = new window.BpmnJS({
    container: "#canvas",
    moddleExtensions: { sift: W.SIFT_NS, spiffworkflow: W.SPIFF_NS },
  });
  window.siftModeler = modeler; // the browser tests drive the diagram through it
  const canvas = modeler.get("canvas");
  const overlays = modeler.get("overlays");
  const registry = modeler.get("elementRegistry");
  const modeling = modeler.get("modeling");
  const moddle = modeler.get("moddle");
  const commands = modeler.get("commandStack");
  let savedAt = 0; // the command stack's depth when the diagram equalled the stored version
  let marked = new Set();
  let selected = null;
  let leaving = false; // the page navigates on purpose (after a save or a discard)
  // the draft a save replaces: the one opened (then last saved), or none from a version, so a
  // draft someone else saved meanwhile is never overwritten unawares (409 DraftChanged)
  let draftSha = "none";

  const dirty = () => commands._stackIdx + 1 !== savedAt;

  // "fit-viewport" fits the diagram to the whole canvas, so the palette (over its left edge)
  // hides the first elements; fit it to the part of the canvas right of the palette instead
  function fitBesidePalette() {
    canvas.zoom("fit-viewport");
    const palette = document.querySelector("#canvas .djs-palette");
    const { inner, outer } = canvas.viewbox();
    const left = palette ? palette.getBoundingClientRect().right - document.querySelector("#canvas").getBoundingClientRect().left + 12 : 0;
    if (!inner.width || !inner.height || left <= 0 || left >= outer.width) return;
    const scale = Math.min((outer.width - left - 12) / inner.width, (outer.height - 24) / inner.height, 1);
    canvas.viewbox({ x: inner.x - left / scale, y: inner.y - 12 / scale, width: outer.width / scale, height: outer.height / scale });
  }

  async function open() {
    const what = editingDraft ? "the draft" : `v${number}`;
    const url = editingDraft ? `${processPath}/draft/xml` : `${processPath}/versions/${number}/xml`;
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) return say(`Could not read ${what} (HTTP ${r.status}).`, true);
    try {
      const { warnings } = await modeler.importXML(await r.text());
      fitBesidePalette();
      savedAt = commands._stackIdx + 1;
      if (editingDraft) return openedDraft();
      say(warnings.length ? `Opened v${number}; the modeler read it with ${warnings.length} warning(s).` : `Opened v${number}.`);
    } catch (err) {
      say(`The modeler cannot draw ${what}: ${err.message}`, true);
    }
  }

  // the draft's problems as its last save found them, on their elements
  async function openedDraft() {
    const r = await call("GET", `${processPath}/draft`);
    if (!r.ok) return say(errorText(r), true);
    draftSha = r.data.sha256;
    showProblems(r.data.problems);
    const justSaved = new URLSearchParams(location.search).get("drafted") === "1";
    const what = justSaved ? "Draft saved" : `Opened the draft saved by ${r.data.saved_by}`;
    say(`${what}: ${draftState(r.data)}`, !r.data.valid);
  }

  function draftState(d) {
    if (d.valid) return "it validates; “Save as version” stores it as a version.";
    return `${d.problems.length} problem(s), marked on the diagram; it cannot become a version until they are fixed.`;
  }

  function clearMarks(kinds) {
    for (const id of marked) for (const k of kinds) canvas.removeMarker(id, k);
    for (const k of kinds) overlays.remove({ type: k });
  }

  function mark(id, kind, text) {
    if (!registry.get(id)) return false;
    canvas.addMarker(id, kind);
    marked.add(id);
    if (text) {
      overlays.add(id, kind, {
        position: { top: -14, right: 14 },
        html: el("div", { class: `badge-overlay ${kind}`, title: text, text: kind === "sift-problem" ? "!" : text }),
      });
    }
    return true;
  }

  async function xmlNow() {
    const { xml } = await modeler.saveXML({ format: true });
    return xml;
  }

  function showProblems(problems) {
    clearMarks(["sift-problem"]);
    const list = document.getElementById("problems");
    list.replaceChildren();
    if (!problems.length) list.append(el("li", { class: "ok", text: "No problem: the server accepts this diagram." }));
    for (const p of problems) {
      const onDiagram = p.element_id ? mark(p.element_id, "sift-problem", p.message) : false;
      const where = p.element_id ? `${p.element_name || p.element_id}` : p.line ? `line ${p.line}` : "file";
      const item = el("li", { class: "problem", "data-element": p.element_id || "" }, el("strong", { text: where + ": " }), p.message);
      if (onDiagram) {
        item.append(" ", el("button", { type: "button", class: "link", text: "Show", onclick: () => select(p.element_id) }));
      }
      list.append(item);
    }
  }

  function select(id) {
    const element = registry.get(id);
    if (!element) return;
    modeler.get("selection").select(element);
    canvas.scrollToElement(element);
  }

  async function validate() {
    say("Validating on the server…");
    const r = await call("POST", "/api/v1/processes:validate", fileForm(await xmlNow(), `${key}.bpmn`));
    if (!r.ok) return say(errorText(r), true);
    showProblems(r.data.problems);
    say(r.data.valid ? "Valid: no problem found." : `${r.data.problems.length} problem(s), marked on the diagram.`, !r.data.valid);
    return r.data.valid;
  }

  async function saveDraft() {
    say("Saving the draft…");
    const query = new URLSearchParams({ replaces: draftSha });
    if (draftBase !== null) query.set("base_version", String(draftBase));
    const r = await call("PUT", `${processPath}/draft?${query}`, fileForm(await xmlNow(), `${key}.bpmn`));
    if (!r.ok) return say(errorText(r), true);
    draftSha = r.data.sha256;
    if (!editingDraft) {
      leaving = true;
      location.href = pageUrl("draft=1&drafted=1");
      return;
    }
    savedAt = commands._stackIdx + 1;
    document.getElementById("save-draft").classList.remove("dirty-mark");
    showProblems(r.data.problems);
    say(`Draft saved: ${draftState(r.data)}`, !r.data.valid);
  }

  async function discardDraft() {
    const r = await call("DELETE", `${processPath}/draft`);
    if (!r.ok && r.status !== 404) return say(errorText(r), true);
    leaving = true;
    location.href = pageUrl(`version=${draftBase || number}&discarded=1`);
  }

  async function save() {
    say("Saving…");
    const url = editingDraft ? "/api/v1/processes?discard_draft=true" : "/api/v1/processes";
    const r = await call("POST", url, fileForm(await xmlNow(), `${key}.bpmn`));
    if (r.status === 422) {
      showProblems(r.data.fields || []);
      return say(`Not saved as a version: ${(r.data.fields || []).length} problem(s), marked on the diagram. “Save draft” keeps the unfinished work.`, true);
    }
    if (!r.ok) return say(errorText(r), true);
    if (r.data.key !== key) return say(`Saved as ${r.data.key} v${r.data.version}: the process id changed.`);
    leaving = true;
    location.href = pageUrl(`version=${r.data.version}&saved=${r.data.created ? 1 : 0}`);
  }

  async function compare() {
    if (dirty()) return say("The diagram has unsaved edits: save them as a version first, then compare that version.", true);
    if (deployed === null) return say("No version is deployed yet: there is nothing to compare with.", true);
    const r = await call("GET", `/api/v1/processes/${encodeURIComponent(key)}/versions/${number}/diff`);
    if (!r.ok) return say(errorText(r), true);
    clearMarks(["sift-added", "sift-changed"]);
    const d = r.data;
    const list = document.getElementById("changes");
    list.replaceChildren();
    const line = (kind, e, extra) =>
      list.append(el("li", { class: `change ${kind}`, "data-element": e.id }, el("strong", { text: `${kind}: ` }), `${e.name || e.id} (${e.type || "element"})${extra || ""}`));
    for (const e of d.added) { mark(e.id, "sift-added", "added"); line("added", e); }
    for (const e of d.changed) { mark(e.id, "sift-changed", "changed"); line("changed", e, e.what && e.what.length ? ` — ${e.what.join(", ")}` : ""); }
    for (const e of d.removed) line("removed", e);
    for (const id of d.forms_changed || []) list.append(el("li", { text: `form changed: ${id}` }));
    for (const t of d.timers_changed || []) list.append(el("li", { text: `timer changed: ${t.id} (${t.before || "—"} → ${t.after || "—"})` }));
    if (d.unchanged) list.append(el("li", { class: "note", text: `v${number} is the same as the deployed v${d.against}.` }));
    document.getElementById("legend").hidden = false;
    await showBase(d.against, d.removed.map((e) => e.id));
    say(`Compared v${number} with the deployed v${d.against}: ${d.added.length} added, ${d.changed.length} changed, ${d.removed.length} removed.`);
  }

  let base = null;
  async function showBase(against, removed) {
    const wrap = document.getElementById("base-wrap");
    if (!removed.length || against === number) { wrap.hidden = true; return; }
    wrap.hidden = false;
    document.getElementById("base-number").textContent = `v${against}`;
    if (!base) base = new window.BpmnJS({ container: "#base-canvas", moddleExtensions: { sift: W.SIFT_NS, spiffworkflow: W.SPIFF_NS } });
    const r = await fetch(`/api/v1/processes/${encodeURIComponent(key)}/versions/${against}/xml`, { credentials: "same-origin" });
    await base.importXML(await r.text());
    base.get("canvas").zoom("fit-viewport");
    for (const id of removed) if (base.get("elementRegistry").get(id)) base.get("canvas").addMarker(id, "sift-removed");
  }

  async function deploy(version) {
    if (version === number && dirty()) return say("The diagram has unsaved edits: save them as a version and deploy that one.", true);
    const r = await call("POST", `/api/v1/processes/${encodeURIComponent(key)}/versions/${version}/deploy`);
    if (!r.ok) return say(errorText(r), true);
    location.href = `/workbench/processes/${encodeURIComponent(key)}?version=${version}&deployed=1`;
  }

  function errorText(r) {
    const d = r.data || {};
    return `${d.error || "HTTP " + r.status}: ${d.detail || "the server refused"}`;
  }

  // --- the properties panel ---------------------------------------------------------------
  const props = document.getElementById("props");
  const bo = (element) => element.businessObject;
  const extension = (element, type) => ((bo(element).extensionElements || {}).values || []).find((v) => v.$instanceOf(type));

  function setExtension(element, type, attrs) {
    const found = extension(element, type);
    if (found) return modeling.updateModdleProperties(element, found, attrs);
    let ext = bo(element).extensionElements;
    const created = moddle.create(type, attrs);
    if (!ext) {
      ext = moddle.create("bpmn:ExtensionElements", { values: [created] });
      created.$parent = ext;
      modeling.updateProperties(element, { extensionElements: ext });
    } else {
      created.$parent = ext;
      modeling.updateModdleProperties(element, ext, { values: [...(ext.values || []), created] });
    }
  }

  function field(label, id, control, help) {
    return el("div", { class: "field" }, el("label", { for: id, text: label }), control, help ? el("p", { class: "note", id: id + "-help", text: help }) : null);
  }

  function render(element) {
    selected = element;
    props.replaceChildren();
    if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") {
      props.append(el("p", { class: "note", text: "Select an element of the diagram to edit its properties." }));
      return;
    }
    const b = bo(element);
    props.append(el("p", { class: "note" }, el("strong", { text: element.type.replace("bpmn:", "") }), ` · id ${element.id}`));
    const name = el("input", { id: "prop-name", type: "text", value: b.name || "" });
    name.addEventListener("change", () => modeling.updateProperties(element, { name: name.value || undefined }));
    props.append(field("Name", "prop-name", name));

    if (element.type === "bpmn:UserTask") renderForm(element);
    if (element.type === "bpmn:ServiceTask") renderService(element);
    if (element.type === "bpmn:ScriptTask") {
      const script = el("textarea", { id: "prop-script", rows: "6", class: "code" });
      script.value = b.script || "";
      script.addEventListener("change", () => modeling.updateProperties(element, { script: script.value }));
      props.append(field("Script (Python subset: no imports)", "prop-script", script));
    }
    const timer = (b.eventDefinitions || []).find((d) => d.$instanceOf("bpmn:TimerEventDefinition"));
    if (timer) renderTimer(element, timer);
    if (element.type === "bpmn:SequenceFlow" && b.sourceRef && /Gateway$/.test(b.sourceRef.$type)) {
      const cond = el("input", { id: "prop-condition", type: "text", class: "code", value: (b.conditionExpression || {}).body || "" });
      cond.addEventListener("change", () =>
        modeling.updateProperties(element, {
          conditionExpression: cond.value ? moddle.create("bpmn:FormalExpression", { body: cond.value }) : undefined,
        }));
      props.append(field("Condition (expression)", "prop-condition", cond));
    }
  }

  function renderForm(element) {
    const form = extension(element, "sift:Form");
    const text = el("textarea", { id: "prop-form", rows: "12", class: "code", "aria-describedby": "prop-form-help" });
    text.value = form ? (form.body || "").trim() : "";
    const preview = el("div", { id: "form-preview", class: "preview", "aria-live": "polite" });
    const draw = () => {
      preview.replaceChildren(el("h3", { text: "Preview of the form" }));
      if (!text.value.trim()) return preview.append(el("p", { class: "note", text: "No form: the task completes with no data." }));
      try {
        const schema = JSON.parse(text.value);
        if (typeof schema !== "object" || schema === null || Array.isArray(schema)) throw new Error("the schema must be a JSON object");
        preview.append(W.formPreview(schema, `preview-${element.id}`));
      } catch (err) {
        preview.append(el("p", { class: "error", text: `Not JSON the form can use: ${err.message}` }));
      }
    };
    text.addEventListener("input", draw);
    text.addEventListener("change", () => setExtension(element, "sift:Form", { body: "\n" + text.value + "\n" }));
    const add = el("button", {
      type: "button",
      text: "Add a field",
      onclick: () => {
        let schema;
        try { schema = text.value.trim() ? JSON.parse(text.value) : { type: "object", properties: {} }; } catch (err) { return say("Fix the schema's JSON before adding a field.", true); }
        const fname = (prompt("Field name (letters, digits, _)") || "").trim();
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(fname)) return;
        schema.properties = schema.properties || {};
        schema.properties[fname] = { type: "string", title: fname.replace(/_/g, " ") };
        text.value = JSON.stringify(schema, null, 2);
        draw();
        text.dispatchEvent(new Event("change"));
      },
    });
    props.append(field("Form (JSON Schema, Draft 2020-12)", "prop-form", text, "What the CSR fills in; the server checks the data against it on completion."), add, preview);
    draw();
  }

  function renderService(element) {
    const op = extension(element, "spiffworkflow:ServiceTaskOperator");
    const opId = el("input", { id: "prop-operator", type: "text", class: "code", value: op ? op.id || "" : "" });
    opId.addEventListener("change", () => setExtension(element, "spiffworkflow:ServiceTaskOperator", { id: opId.value }));
    const result = el("input", { id: "prop-result", type: "text", class: "code", value: op ? op.resultVariable || "" : "" });
    result.addEventListener("change", () => setExtension(element, "spiffworkflow:ServiceTaskOperator", { resultVariable: result.value || undefined }));
    props.append(field("Service operation (a registered operator, e.g. case.escalate)", "prop-operator", opId), field("Result variable", "prop-result", result));
    const params = op && op.parameters ? op.parameters.parameters || [] : [];
    if (params.length) {
      const list = el("ul", { class: "params" });
      for (const p of params) list.append(el("li", { class: "code", text: `${p.id} = ${p.value}` }));
      props.append(el("p", { class: "note", text: "Parameters (expressions):" }), list);
    }
  }

  function renderTimer(element, timer) {
    const kinds = { timeDuration: "Duration (ISO 8601, e.g. PT4H, or an expression)", timeCycle: "Cycle (e.g. R3/PT1H)", timeDate: "Date (ISO 8601)" };
    const current = Object.keys(kinds).find((k) => timer[k]) || "timeDuration";
    const kind = el("select", { id: "prop-timer-kind" }, ...Object.entries(kinds).map(([k, label]) => el("option", { value: k, text: label, selected: k === current })));
    const expr = el("input", { id: "prop-timer", type: "text", class: "code", value: timer[current] ? timer[current].body || "" : "" });
    const write = () => {
      const attrs = { timeDuration: undefined, timeCycle: undefined, timeDate: undefined };
      attrs[kind.value] = moddle.create("bpmn:FormalExpression", { body: expr.value });
      modeling.updateModdleProperties(element, timer, attrs);
    };
    kind.addEventListener("change", write);
    expr.addEventListener("change", write);
    props.append(field("Timer kind", "prop-timer-kind", kind), field("Timer expression", "prop-timer", expr));
  }

  modeler.on("selection.changed", (e) => render(e.newSelection.length === 1 ? e.newSelection[0] : null));
  modeler.on("commandStack.changed", () => {
    document.getElementById("save").classList.toggle("dirty-mark", dirty());
    document.getElementById("save-draft").classList.toggle("dirty-mark", dirty());
    if (selected && !registry.get(selected.id)) render(null);
  });

  document.getElementById("validate").addEventListener("click", validate);
  document.getElementById("save-draft").addEventListener("click", saveDraft);
  document.getElementById("save").addEventListener("click", save);
  if (!editingDraft) {
    document.getElementById("compare").addEventListener("click", compare);
    document.getElementById("deploy").addEventListener("click", () => deploy(number));
  }
  const discard = document.getElementById("discard-draft");
  if (discard) discard.addEventListener("click", discardDraft);
  // unsaved edits are not lost by leaving the page unawares
  window.addEventListener("beforeunload", (e) => {
    if (dirty() && !leaving) e.preventDefault();
  });
  for (const b of document.querySelectorAll("button.deploy-version")) b.addEventListener("click", () => deploy(Number(b.dataset.version)));
  document.getElementById("version-pick").addEventListener("change", (e) => {
    location.href = `/workbench/processes/${encodeURIComponent(key)}?version=${e.target.value}`;
  });
  const params = new URLSearchParams(location.search);
  open().then(() => {
    if (params.get("saved") === "1") say(`Saved as version ${number}, not deployed yet.`);
    if (params.get("saved") === "0") say(`Identical to the stored version ${number}: nothing new was stored.`);
    if (params.get("deployed") === "1") say(`Version ${number} is deployed: new cases run it.`);
    if (params.get("discarded") === "1") say(`The draft is discarded; this is v${number}.`);
  });
})();
