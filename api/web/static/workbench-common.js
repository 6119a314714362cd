// What the workbench's pages share: the JSON API with the session's CSRF token, a status line,
// Sift's BPMN extensions described for bpmn-js (so sift:form and the service operator are read
// and written as properties, not kept as opaque XML) and a JSON Schema form's live preview.
(() => {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function call(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf();
    const init = { method, headers, credentials: "same-origin" };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    if (r.status === 401) {
      location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("the session has ended");
    }
    const type = r.headers.get("content-type") || "";
    const data = type.includes("json") ? await r.json().catch(() => null) : await r.text();
    return { status: r.status, ok: r.ok, data };
  }

  function fileForm(xml, name) {
    const form = new FormData();
    form.append("file", new Blob([xml], { type: "application/xml" }), name);
    return form;
  }

  function say(text, bad) {
    const el = document.getElementById("status");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("error", !!bad);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  const SIFT_NS = {
    name: "Sift",
    uri: "https://sift-project.org/schema/bpmn",
    prefix: "sift",
    xml: { tagAlias: "lowerCase" },
    types: [{ name: "Form", superClass: ["Element"], properties: [{ name: "body", isBody: true, type: "String" }] }],
  };
  const SPIFF_NS = {
    name: "SpiffWorkflow",
    uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    prefix: "spiffworkflow",
    xml: { tagAlias: "lowerCase" },
    types: [
      {
        name: "ServiceTaskOperator",
        superClass: ["Element"],
        properties: [
          { name: "id", isAttr: true, type: "String" },
          { name: "resultVariable", isAttr: true, type: "String" },
          { name: "parameterList", type: "Parameters" },
        ],
      },
      { name: "Parameters", properties: [{ name: "parameters", type: "Parameter", isMany: true }] },
      {
        name: "Parameter",
        properties: [
          { name: "id", isAttr: true, type: "String" },
          { name: "type", isAttr: true, type: "String" },
          { name: "value", isAttr: true, type: "String" },
        ],
      },
    ],
  };

  const LONG_TEXT = ["reply", "note", "reason", "comment", "summary", "message", "body"];

  // The form a user task shows, drawn from its JSON Schema as the case page draws it
  // (api/web/forms.py): enums as selects, booleans as checkboxes, numbers as number inputs,
  // long text as a text area.
  function formPreview(schema, prefix) {
    const box = el("div", { class: "form-preview" });
    const required = new Set(schema.required || []);
    const props = schema.properties || {};
    if (!Object.keys(props).length) box.append(el("p", { class: "note", text: "The form has no fields." }));
    for (const [name, prop] of Object.entries(props)) {
      if (!prop || typeof prop !== "object") continue;
      let kind = prop.type || "string";
      if (Array.isArray(kind)) kind = kind.find((k) => k !== "null") || "string";
      const id = `${prefix}-${name}`;
      const label = el("label", { for: id, text: (prop.title || name.replace(/_/g, " ")) + (required.has(name) ? " *" : "") });
      let input;
      if (Array.isArray(prop.enum)) {
        input = el("select", { id }, ...prop.enum.map((v) => el("option", { text: String(v) })));
      } else if (kind === "boolean") {
        input = el("input", { id, type: "checkbox" });
      } else if (kind === "number" || kind === "integer") {
        input = el("input", { id, type: "number" });
      } else if (kind === "string" && (LONG_TEXT.includes(name) || (prop.maxLength || 0) > 200)) {
        input = el("textarea", { id, rows: "2" });
      } else {
        input = el("input", { id, type: "text" });
      }
      box.append(el("div", { class: "field" }, label, input));
    }
    return box;
  }

  window.SiftWorkbench = { call, fileForm, say, el, SIFT_NS, SPIFF_NS, formPreview };
})();
