// Review queue: calls the audit flagged, complaints and disputes, low-confidence understanding.
(function () {
  DW.chrome("review");
  let offset = 0;
  const limit = 25;
  async function load() {
    const q = new URLSearchParams({ state: document.getElementById("state").value, limit, offset });
    const reason = document.getElementById("reason").value;
    if (reason) q.set("reason", reason);
    const tbody = document.querySelector("#queue tbody");
    let page;
    try { page = await DW.api("/api/reviews/queue?" + q.toString()); }
    catch (e) { tbody.innerHTML = `<tr><td colspan="5" class="error">${DW.esc(e.message)}</td></tr>`; return; }
    tbody.innerHTML = page.items.length ? "" : `<tr><td colspan="5" class="muted">${DW.t("queue_empty")}</td></tr>`;
    page.items.forEach((c) => {
      const tr = document.createElement("tr");
      tr.className = "row queued"; tr.dataset.id = c.id;
      const why = c.reasons.map((r) => `<span class="badge reason-${DW.esc(r)}" data-reason="${DW.esc(r)}">${DW.esc(DW.label("queue", r))}${r === "finding" && c.findings ? " ×" + c.findings : ""}</span>`).join(" ");
      tr.innerHTML = `<td><a href="call.html?id=${encodeURIComponent(c.id)}">${DW.bothTimes(c.started_at, c.account_timezone)}</a></td>` +
        `<td>${DW.esc(c.account_name || "")}</td><td>${DW.badge("outcome", c.outcome)}</td><td>${why}</td>` +
        `<td class="num">${c.review_score != null ? DW.esc(c.review_score) : ""}</td>`;
      tr.addEventListener("click", (ev) => { if (!ev.target.closest("a")) location.href = "call.html?id=" + encodeURIComponent(c.id); });
      tbody.append(tr);
    });
    document.getElementById("queue-count").textContent = `${page.total}`;
    document.getElementById("prev").disabled = page.offset === 0;
    document.getElementById("next").disabled = page.next_offset == null;
  }
  ["reason", "state"].forEach((id) => document.getElementById(id).addEventListener("change", () => { offset = 0; load(); }));
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - limit); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += limit; load(); });
  DW.ready.then(load);
})();
