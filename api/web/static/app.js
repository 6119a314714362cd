// Sift's pages: the few things the server cannot do for them. Every change goes to the JSON API
// with the session cookie and the CSRF token; live regions are re-fetched from the page itself
// when the event stream reports a change; SLA countdowns tick; keyboard shortcuts.
(() => {
  "use strict";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";

  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf();
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    if (r.status === 401) {
      location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("the session has ended");
    }
    let data = null;
    if (r.status !== 204) data = await r.json().catch(() => null);
    return { status: r.status, ok: r.ok, data, headers: r.headers };
  }

  function say(el, text, bad) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("error", !!bad);
  }

  // --- SLA countdowns ---------------------------------------------------------------------
  function span(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  }
  function tick() {
    const now = Date.now();
    for (const t of $$("time[data-due]")) {
      const left = Date.parse(t.dataset.due) - now;
      t.textContent = left < 0 ? `overdue ${span(left)}` : `in ${span(left)}`;
      t.classList.toggle("overdue", left < 0);
      t.classList.toggle("soon", left >= 0 && left < 3600e3);
    }
    for (const t of $$("time[data-since]")) t.textContent = span(now - Date.parse(t.dataset.since));
  }

  // --- live regions -------------------------------------------------------------------------
  let refreshing = null, again = false;
  function busy(el) {
    const active = document.activeElement;
    return (active && el.contains(active) && active.matches("input, textarea, select")) || $(".dirty", el);
  }
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = (async () => {
      const r = await fetch(location.href, { credentials: "same-origin" });
      if (!r.ok || r.redirected) return;
      const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
      for (const el of $$("[data-live] [id][data-swap], [data-live][data-swap]")) {
        const next = fresh.getElementById(el.id);
        if (next && !busy(el)) el.replaceWith(next);
      }
      tick();
      document.dispatchEvent(new CustomEvent("sift:refreshed"));
    })();
    try { await refreshing; } finally {
      refreshing = null;
      if (again) { again = false; refresh(); }
    }
  }
  function listen() {
    if (!$("[data-live]") || !window.EventSource) return;
    const caseId = ($("#case") || {}).dataset?.case;
    let timer = null;
    const source = new EventSource(`/api/v1/stream?after=${Number(document.body.dataset.seq) || 0}`);
    source.onmessage = (msg) => {
      const event = JSON.parse(msg.data);
      if (caseId && event.case_id !== caseId) return;
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    };
  }

  // --- My work ------------------------------------------------------------------------------
  const REASONS = {
    away: "You are marked away; come back to get new work.",
    at_capacity: "You hold as many cases as your capacity allows; finish one first.",
    no_queues: "Your key is in no queue whose skills it has; ask a supervisor.",
    nothing: "Nothing is waiting in your queues right now.",
  };
  async function nextCase() {
    const out = $("#next-result");
    const r = await api("POST", "/api/v1/tasks:next");
    if (r.status === 200) { location.href = `/cases/${r.data.case_id}`; return; }
    if (r.status === 204) { say(out, REASONS[r.headers.get("Sift-Next-Reason")] || "Nothing to take."); return; }
    say(out, (r.data && r.data.detail) || `Next failed (${r.status})`, true);
  }
  function rows() { return $$("table.cases tbody tr[data-case]"); }
  function move(step) {
    const list = rows();
    if (!list.length) return;
    const at = list.findIndex((tr) => tr.classList.contains("selected"));
    const to = Math.max(0, Math.min(list.length - 1, at + step));
    list.forEach((tr) => tr.classList.remove("selected"));
    list[to].classList.add("selected");
    $("a", list[to]).focus();
  }

  // --- the case page ------------------------------------------------------------------------
  function formData(form) {
    const data = {};
    for (const el of $$("[name]", form)) {
      const type = el.dataset.type;
      if (type === "boolean") { data[el.name] = el.checked; continue; }
      const value = el.value.trim() === "" ? "" : el.value;
      if (value === "") continue;
      if (type === "integer") data[el.name] = parseInt(value, 10);
      else if (type === "number") data[el.name] = parseFloat(value);
      else data[el.name] = value;
    }
    return data;
  }
  function clearErrors(form) {
    for (const p of $$(".field-error", form)) p.textContent = "";
    for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
    $("#form-error", form).hidden = true;
  }
  // Canned replies: the template picked is rendered for this case (POST …:render, which fills its
  // variables) into the reply box, where the CSR may edit it. Sent unchanged, the task is
  // completed with its canned_reply_id (the timeline names it); once edited, as the CSR's text.
  let canned = null; // {id, text, variables} of the rendered template in the reply box
  function cannedVariables() {
    const out = {};
    for (const input of $$("#canned-box input[data-var]")) {
      if (input.value.trim()) out[input.dataset.var] = input.value.trim();
    }
    return out;
  }
  async function pickCanned() {
    const id = $("#canned").value, note = $("#canned-note"), reply = $("#fld-reply");
    canned = null;
    if (!id) { say(note, ""); return; }
    const variables = cannedVariables();
    const r = await api("POST", `/api/v1/canned-replies/${encodeURIComponent(id)}:render`,
      { case_id: $("#case").dataset.case, variables });
    if (!r.ok) {
      for (const f of (r.data && r.data.fields) || []) {
        const wanted = /^variables\.(.+)$/.exec(String(f.field || ""));
        const box = wanted && $(`.canned-var[data-var="${CSS.escape(wanted[1])}"]`);
        if (box) { box.hidden = false; $("input", box).focus(); }
      }
      say(note, (r.data && r.data.detail) || `Could not fill in the canned reply (${r.status}).`, true);
      return;
    }
    reply.value = r.data.text;
    canned = { id, text: r.data.text, variables };
    const filled = Object.entries(r.data.values).map(([k, v]) => `${k} = ${v}`).join(", ");
    say(note, `Filled in${filled ? ` (${filled})` : ""}; edit it as you like before you send.`);
    const form = reply.closest("form");
    form.classList.add("dirty");
    writing(form);
  }
  function replyEdited() {
    if (!canned) return;
    const same = $("#fld-reply").value === canned.text;
    say($("#canned-note"), same ? "The canned reply as filled in." : "Edited: it goes as your own text.");
  }
  function taskData(form) {
    const data = formData(form);
    if (canned && data.reply === canned.text) {
      delete data.reply;
      data.canned_reply_id = canned.id;
      if (Object.keys(canned.variables).length) data.variables = canned.variables;
    }
    return data;
  }

  async function completeTask(form) {
    clearErrors(form);
    const button = $("#complete", form);
    button.disabled = true;
    try {
      const r = await api("POST", `/api/v1/tasks/${form.dataset.task}/complete`, { data: taskData(form) });
      if (r.ok) { form.classList.remove("dirty"); lease = { task: null, at: 0 }; canned = null; location.reload(); return; }
      const fields = (r.data && r.data.fields) || [];
      let first = null;
      for (const f of fields) {
        const name = String(f.field || "").replace(/^data\./, "").split(".")[0];
        const input = form.elements[name];
        const err = $(`#err-${CSS.escape(name)}`, form);
        if (input && err) {
          err.textContent = `${input.labels?.[0]?.textContent.replace("*", "").trim() || name} ${f.message}`;
          input.setAttribute("aria-invalid", "true");
          first = first || input;
        }
      }
      const box = $("#form-error", form);
      box.textContent = (r.data && r.data.detail) || `Could not complete the task (${r.status}).`;
      box.hidden = false;
      (first || box).focus();
    } finally {
      button.disabled = false;
    }
  }
  async function caseAction(path, body) {
    const id = $("#case").dataset.case;
    const r = await api("POST", `/api/v1/cases/${id}/${path}`, body);
    if (r.ok) { location.reload(); return; }
    say($("#action-result"), (r.data && r.data.detail) || `Failed (${r.status})`, true);
  }

  async function postComment(form) {
    const id = $("#case").dataset.case;
    const body = { body: form.elements.body.value, internal: form.elements.internal.checked };
    const r = await api("POST", `/api/v1/cases/${id}/comments`, body);
    const box = $("#comment-error");
    if (!r.ok) { box.textContent = (r.data && r.data.detail) || `Failed (${r.status})`; box.hidden = false; return; }
    box.hidden = true;
    form.reset();
    refresh();
  }
  async function linkAction(method, path, body, after) {
    const id = $("#case").dataset.case;
    const r = await api(method, `/api/v1/cases/${id}${path}`, body);
    const box = $("#links-error");
    if (!r.ok) { box.textContent = (r.data && r.data.detail) || `Failed (${r.status})`; box.hidden = false; return; }
    box.hidden = true;
    if (after) after(r); else refresh();
  }

  // Collision: while the CSR fills the task's form, a writing lease tells the others; renewed
  // while they keep typing, given back when they leave the page without completing.
  const LEASE_RENEW_MS = 30e3;
  let lease = { task: null, at: 0 };
  async function writing(form) {
    const task = form.dataset.task;
    if (lease.task === task && Date.now() - lease.at < LEASE_RENEW_MS) return;
    lease = { task, at: Date.now() };
    const r = await api("POST", `/api/v1/tasks/${task}/writing`);
    const box = $("#writing-refused");
    if (r.status === 409 && r.data && r.data.error === "TaskBeingWritten") {
      box.textContent = r.data.detail;
      box.hidden = false;
      lease = { task: null, at: 0 };
    } else if (r.ok) box.hidden = true;
  }
  function stopWriting() {
    if (!lease.task) return;
    fetch(`/api/v1/tasks/${lease.task}/writing`, {
      method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
    });
    lease = { task: null, at: 0 };
  }

  async function draftReply() {
    const note = $("#draft-note");
    say(note, "Asking the assistant…");
    const r = await api("POST", `/api/v1/cases/${$("#case").dataset.case}/draft`);
    if (!r.ok) { say(note, (r.data && r.data.detail) || `No draft (${r.status})`, true); return; }
    const reply = $("#fld-reply");
    reply.value = r.data.draft;
    reply.closest("form").classList.add("dirty");
    writing(reply.closest("form"));
    say(note, `Assistant draft (${r.data.model}): edit it before you send. Summary: ${r.data.summary}`);
    reply.focus();
  }

  // --- the board ----------------------------------------------------------------------------
  async function reassign(form) {
    const value = form.elements.assignee.value || null;
    const r = await api("POST", `/api/v1/cases/${form.dataset.case}/assign`, { assignee: value });
    say($("#live-status"), r.ok ? `Assigned to ${value || "nobody"}.` : (r.data && r.data.detail) || "Failed");
    if (!r.ok) alert((r.data && r.data.detail) || `Reassign failed (${r.status})`);
    refresh();
  }
  async function toggleAway(button) {
    const away = button.dataset.away !== "true";
    const r = await api("PATCH", `/api/v1/agents/${encodeURIComponent(button.dataset.agent)}`, { away });
    if (!r.ok) alert((r.data && r.data.detail) || `Failed (${r.status})`);
    refresh();
  }

  // --- shortcuts ------------------------------------------------------------------------------
  let pendingG = false;
  function shortcut(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest("input, textarea, select, [contenteditable]")) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    const key = e.key;
    if (pendingG) {
      pendingG = false;
      const go = { w: "/work", b: "/board", d: "/dashboard" }[key];
      if (go) { e.preventDefault(); location.href = go; }
      return;
    }
    const actions = {
      "?": () => $("#help")?.showModal(),
      n: () => { if ($("#next") && !$("#next").disabled) nextCase(); else if (!$("#next")) location.href = "/work?next=1"; },
      "/": () => { const q = $("#f-q"); if (q) q.focus(); else location.href = "/work#search"; },
      j: () => move(1),
      k: () => move(-1),
      r: () => ($("#fld-reply") || $("#task-form [name]"))?.focus(),
      c: () => $("#canned")?.focus(),
      e: () => {
        const form = $("#task-form");
        if (!form) return;
        if (form.dataset.taskName === "resolve") form.requestSubmit();
        else if (form.elements.then) { form.elements.then.value = "resolve"; ($("#fld-reply") || $("#complete")).focus(); }
      },
      a: () => { if ($("#claim")) $("#claim").click(); else $("#assignee")?.focus(); },
      g: () => { pendingG = true; setTimeout(() => { pendingG = false; }, 1500); },
    };
    if (key === "Enter" && !e.target.closest("a, button")) {
      const row = $("table.cases tbody tr.selected a");
      if (row) { e.preventDefault(); row.click(); }
      return;
    }
    if (actions[key]) { e.preventDefault(); actions[key](); }
  }

  // --- wiring (delegated, so swapped regions keep working) ----------------------------------
  document.addEventListener("keydown", shortcut);
  document.addEventListener("click", (e) => {
    const t = e.target.closest("button");
    if (!t) return;
    if (t.id === "next") nextCase();
    else if (t.id === "draft") draftReply();
    else if (t.id === "help-open") $("#help").showModal();
    else if (t.dataset.action === "claim" || t.dataset.action === "release") caseAction(t.dataset.action);
    else if (t.classList.contains("away-toggle")) toggleAway(t);
    else if (t.classList.contains("link-remove")) linkAction("DELETE", `/links/${t.dataset.link}`);
    else if (t.classList.contains("mention-read")) api("POST", `/api/v1/mentions/${t.dataset.mention}/read`).then(refresh);
  });
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (form.id === "task-form") { e.preventDefault(); completeTask(form); }
    else if (form.id === "assign") { e.preventDefault(); caseAction("assign", { assignee: form.elements.assignee.value || null }); }
    else if (form.classList.contains("reassign")) { e.preventDefault(); reassign(form); }
    else if (form.id === "comment-form") { e.preventDefault(); postComment(form); }
    else if (form.id === "link-form") {
      e.preventDefault();
      linkAction("POST", "/links", { type: form.elements.type.value, case_id: form.elements.case_id.value.trim() });
    } else if (form.id === "merge-form") {
      e.preventDefault();
      const into = form.elements.into.value.trim();
      if (confirm(`Merge this case into ${into}? This case closes and its messages move there.`)) {
        linkAction("POST", ":merge", { into }, () => { location.href = `/cases/${into}`; });
      }
    }
  });
  document.addEventListener("input", (e) => {
    const form = e.target.closest("#task-form");
    if (form) { form.classList.add("dirty"); writing(form); }
    if (e.target.id === "fld-reply") replyEdited();
  });
  document.addEventListener("change", (e) => {
    if (e.target.id === "canned" || e.target.closest(".canned-var")) pickCanned();
    if (e.target.closest("#filters") && e.target.tagName === "SELECT") e.target.form.requestSubmit();
  });
  window.addEventListener("pagehide", stopWriting);
  document.addEventListener("DOMContentLoaded", () => {
    tick();
    setInterval(tick, 1000);
    listen();
    if (location.hash === "#search") $("#f-q")?.focus();
    if (new URLSearchParams(location.search).get("next") === "1" && $("#next") && !$("#next").disabled) nextCase();
  });
  window.sift = { api, refresh };
})();
