// Promises to pay: filter by status; amount in its currency with thousands separators; due date; the call.
(function () {
  DW.chrome("promises");
  const LIMIT = 50;
  const sel = document.getElementById("promise-status");
  let offset = 0;

  async function load() {
    const q = new URLSearchParams({ limit: LIMIT, offset });
    if (sel.value) q.set("status", sel.value);
    const page = await DW.api("/api/promises?" + q);
    const tb = document.querySelector("#promises tbody");
    tb.innerHTML = page.items.length ? "" : `<tr><td colspan="7" class="muted">${DW.esc(DW.t("no_promises"))}</td></tr>`;
    page.items.forEach((p) => {
      const call = p.call_id ? `<a class="call-link" href="call.html?id=${encodeURIComponent(p.call_id)}">${DW.esc(p.call_id.slice(0, 8))}</a>` : "—";
      tb.insertAdjacentHTML("beforeend",
        `<tr class="promise" data-id="${DW.esc(p.id)}" data-status="${DW.esc(p.status)}"><td class="due">${DW.esc(DW.fmtDate(p.due_date))}</td>` +
        `<td><span class="badge ${DW.esc(p.status)}">${DW.esc(DW.t("ps_" + p.status))}</span></td>` +
        `<td class="num amount">${DW.esc(DW.fmtMoney(p.amount, p.currency))}</td>` +
        `<td class="num paid">${DW.esc(DW.fmtMoney(p.paid_amount, p.currency))}</td>` +
        `<td>${DW.esc(p.account_id.slice(0, 8))}</td><td>${call}</td><td class="muted">${DW.esc(p.reason || "")}</td></tr>`);
    });
    document.getElementById("promise-counts").textContent =
      Object.entries(page.counts || {}).map(([k, n]) => `${DW.t("ps_" + k)} ${n}`).join(" · ");
    document.getElementById("page-info").textContent = page.total ? `${offset + 1}–${offset + page.items.length} ${DW.t("of")} ${page.total}` : "";
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = offset + page.items.length >= page.total;
  }

  sel.addEventListener("change", () => {
    offset = 0;
    history.replaceState(null, "", sel.value ? "?status=" + encodeURIComponent(sel.value) : "?");
    load().catch(() => {});
  });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - LIMIT); load().catch(() => {}); });
  document.getElementById("next").addEventListener("click", () => { offset += LIMIT; load().catch(() => {}); });
  const want = DW.param("status");
  if (want) sel.value = want;
  load().catch(() => {});
})();
