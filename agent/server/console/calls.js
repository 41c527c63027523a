// Calls list: filters, transcript search, pagination.
(function () {
  DW.chrome("calls");
  const OUTCOMES = ["no_answer", "busy", "voicemail", "wrong_number", "third_party", "right_party", "ptp", "paid_already",
    "refused", "dispute", "callback", "transferred", "opted_out", "converted", "not_interested", "hung_up"];
  const form = document.getElementById("filters");
  const outcomeSel = form.elements.outcome;
  OUTCOMES.forEach((o) => outcomeSel.insertAdjacentHTML("beforeend", `<option value="${o}">${o}</option>`));
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) if (form.elements[k]) form.elements[k].value = v;
  let offset = Number(params.get("offset") || 0);
  const limit = 25;

  DW.api("/api/campaigns?limit=200").then((page) => {
    page.items.forEach((c) => form.elements.campaign_id.insertAdjacentHTML("beforeend",
      `<option value="${DW.esc(c.id)}">${DW.esc(c.name)}</option>`));
    if (params.get("campaign_id")) form.elements.campaign_id.value = params.get("campaign_id");
  }).catch(() => {});

  async function load() {
    const q = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value) q.set(el.name, el.value);
    q.set("limit", limit); q.set("offset", offset);
    const tbody = document.querySelector("#calls tbody");
    let page;
    try { page = await DW.api("/api/calls?" + q.toString()); }
    catch (e) { tbody.innerHTML = `<tr><td colspan="6" class="error">${DW.esc(e.message)}</td></tr>`; return; }
    tbody.innerHTML = page.items.length ? "" : `<tr><td colspan="6" class="muted">${DW.t("no_calls")}</td></tr>`;
    page.items.forEach((c) => {
      const tr = document.createElement("tr");
      tr.className = "row"; tr.dataset.id = c.id;
      tr.innerHTML = `<td>${DW.esc(DW.fmtTime(c.started_at))}</td><td>${DW.esc(c.language)}</td><td>${DW.esc(c.script_id)}</td>` +
        `<td><span class="badge ${DW.esc(c.outcome || "")}">${DW.esc(c.outcome || "—")}</span></td><td>${DW.esc(c.status)}</td>` +
        `<td>${DW.esc(c.campaign_id || "")}</td>`;
      tr.addEventListener("click", () => { location.href = "call.html?id=" + encodeURIComponent(c.id); });
      tbody.append(tr);
    });
    document.getElementById("count").textContent = `${page.offset + (page.items.length ? 1 : 0)}–${page.offset + page.items.length} ${DW.t("of")} ${page.total}`;
    document.getElementById("prev").disabled = page.offset === 0;
    document.getElementById("next").disabled = page.next_offset == null;
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - limit); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += limit; load(); });
  load();
})();
