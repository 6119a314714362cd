// The decision-table page: dmn-js (npm) edits a stored version of a DMN table; the server
// validates it, stores it as a (not yet deployed) version and deploys it. For the routing table, the test
// panel asks the server which rule fires for one signal with the table as edited here (not
// stored) and with the deployed one.
(() => {
  "use strict";
  const { call, fileForm, say, el } = window.SiftWorkbench;
  const page = document.getElementById("decision-page");
  const key = page.dataset.key;
  const number = Number(page.dataset.version);
  const modeler = new window.DmnJS({ container: "#table" });
  window.siftDmn = modeler;
  let savedXml = null;

  async function xmlNow() {
    const { xml } = await modeler.saveXML({ format: true });
    return xml;
  }

  function errorText(r) {
    const d = r.data || {};
    return `${d.error || "HTTP " + r.status}: ${d.detail || "the server refused"}`;
  }

  function mark(ids, cls) {
    for (const node of document.querySelectorAll(`#table .${cls}`)) node.classList.remove(cls);
    for (const id of ids) {
      for (const node of document.querySelectorAll(`#table [data-element-id="${CSS.escape(id)}"], #table [data-row-id="${CSS.escape(id)}"]`)) node.classList.add(cls);
    }
  }

  function showProblems(problems) {
    const list = document.getElementById("problems");
    list.replaceChildren();
    if (!problems.length) list.append(el("li", { class: "ok", text: "No problem: the server accepts this table." }));
    for (const p of problems) list.append(el("li", { class: "problem" }, el("strong", { text: `${p.element_name || p.element_id || "table"}: ` }), p.message));
    mark(problems.map((p) => p.element_id).filter(Boolean), "sift-problem-cell");
  }

  async function open() {
    const r = await fetch(`/api/v1/processes/${encodeURIComponent(key)}/versions/${number}/xml`, { credentials: "same-origin" });
    try {
      await modeler.importXML(await r.text());
      const table = modeler.getViews().find((v) => v.type === "decisionTable");
      if (table) await modeler.open(table);
      savedXml = await xmlNow();
      say(`Opened v${number}.`);
    } catch (err) {
      say(`The table cannot be drawn: ${err.message}`, true);
    }
  }

  document.getElementById("validate").addEventListener("click", async () => {
    const r = await call("POST", "/api/v1/processes:validate", fileForm(await xmlNow(), `${key}.dmn`));
    if (!r.ok) return say(errorText(r), true);
    showProblems(r.data.problems);
    say(r.data.valid ? "Valid: no problem found." : `${r.data.problems.length} problem(s).`, !r.data.valid);
  });

  document.getElementById("save").addEventListener("click", async () => {
    const r = await call("POST", "/api/v1/processes", fileForm(await xmlNow(), `${key}.dmn`));
    if (r.status === 422) { showProblems(r.data.fields || []); return say("Not saved: fix the problems listed.", true); }
    if (!r.ok) return say(errorText(r), true);
    location.href = `/workbench/processes/${encodeURIComponent(key)}?version=${r.data.version}&saved=${r.data.created ? 1 : 0}`;
  });

  async function deploy(version) {
    if (version === number && (await xmlNow()) !== savedXml) return say("The table has unsaved edits: save them as a version and deploy that one.", true);
    const r = await call("POST", `/api/v1/processes/${encodeURIComponent(key)}/versions/${version}/deploy`);
    if (!r.ok) return say(errorText(r), true);
    location.href = `/workbench/processes/${encodeURIComponent(key)}?version=${version}&deployed=1`;
  }
  document.getElementById("deploy").addEventListener("click", () => deploy(number));
  for (const b of document.querySelectorAll("button.deploy-version")) b.addEventListener("click", () => deploy(Number(b.dataset.version)));
  document.getElementById("version-pick").addEventListener("change", (e) => {
    location.href = `/workbench/processes/${encodeURIComponent(key)}?version=${e.target.value}`;
  });

  const test = document.getElementById("routing-test");
  if (test) {
    test.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { xml: await xmlNow() };
      if (test.elements.signal_id.value) body.signal_id = test.elements.signal_id.value;
      else if (test.elements.text.value.trim()) body.text = test.elements.text.value.trim();
      else return say("Pick a recent signal or paste a mention.", true);
      say("Evaluating both tables on the server…");
      const r = await call("POST", "/api/v1/processes/routing:test", body);
      if (r.status === 422 && r.data.fields) showProblems(r.data.fields);
      if (!r.ok) return say(errorText(r), true);
      const out = document.getElementById("fired");
      const differs = JSON.stringify(r.data.deployed.outputs) !== JSON.stringify(r.data.draft.outputs) || r.data.deployed.rule_id !== r.data.draft.rule_id;
      const card = (title, f, id) => el("div", { class: `panel${differs ? " differs" : ""}`, id },
        el("h3", { text: title }),
        el("p", {}, el("strong", { text: f.matched ? f.rule_id || `rule ${f.rule_index}` : "no rule" })),
        el("p", { class: "note", text: f.rule_description || "" }),
        el("ul", {}, ...Object.entries(f.outputs).map(([k, v]) => el("li", { text: `${k}: ${v}` }))));
      out.replaceChildren(card(`Deployed v${r.data.deployed.version}`, r.data.deployed, "fired-deployed"), card("This draft", r.data.draft, "fired-draft"));
      out.append(el("p", { class: "note", text: `Inputs: ${Object.entries(r.data.context).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}` }));
      mark([r.data.draft.rule_id].filter(Boolean), "sift-fired-row");
      say(differs ? "The draft decides differently from the deployed table." : "Both tables decide the same.");
    });
  }
  const params = new URLSearchParams(location.search);
  open().then(() => {
    if (params.get("saved") === "1") say(`Saved as version ${number}, not deployed yet.`);
    if (params.get("deployed") === "1") say(`Version ${number} is deployed: signals are routed with it from now on.`);
  });
})();
