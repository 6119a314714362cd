// The workbench's incidents: "Retry" merges the given data into what the failed element reads
// (and moves the instance onto a version, if one is given), then runs the element again.
(() => {
  "use strict";
  const { call } = window.SiftWorkbench;
  for (const form of document.querySelectorAll("form.retry")) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = form.querySelector(".status");
      const body = {};
      try {
        body.data = JSON.parse(form.elements.data.value || "{}");
      } catch (err) {
        status.textContent = `The data is not JSON: ${err.message}`;
        status.classList.add("error");
        return;
      }
      if (form.elements.version.value) body.version = Number(form.elements.version.value);
      status.textContent = "Retrying…";
      const r = await call("POST", `/api/v1/incidents/${form.dataset.incident}:retry`, body);
      const d = r.data || {};
      if (!r.ok) {
        status.textContent = `${d.error || r.status}: ${d.detail || "refused"}`;
        status.classList.add("error");
      } else if (d.status === "resolved") {
        status.textContent = "Resolved: the process went on.";
        status.classList.remove("error");
        form.closest("tr").classList.add("resolved");
      } else {
        status.textContent = `Failed again (attempt ${d.attempts}): ${d.message}`;
        status.classList.add("error");
      }
    });
  }
})();
