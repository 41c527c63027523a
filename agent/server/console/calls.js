// Calls list: find by phone/name/external id/call id, filters, sortable columns, times in both zones, CSV export.
(function () {
  DW.chrome("calls");
  const form = document.getElementById("filters");
  const params = new URLSearchParams(location.search);
  let offset = Number(params.get("offset") || 0);
  let sort = params.get("sort") || "-started_at";
  const limit = 25;
  document.getElementById("viewer-zone").textContent = DW.viewerZone;

  DW.api("/api/campaigns?limit=200").then((page) => {
    page.items.forEach((c) => form.elements.campaign_id.insertAdjacentHTML("beforeend",
      `<option value="${DW.esc(c.id)}">${DW.esc(c.name)}</option>`));
    if (params.get("campaign_id")) form.elements.campaign_id.value = params.get("campaign_id");
  }).catch(() => {});

  function query() {
    const q = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value) q.set(el.name, el.value);
    q.set("tz", DW.viewerZone); q.set("sort", sort);
    return q;
  }

  function showSort() {
    document.querySelectorAll("#calls th[data-sort]").forEach((th) => {
      const key = th.dataset.sort;
      const state = sort === key ? "ascending" : sort === "-" + key ? "descending" : "none";
      th.setAttribute("aria-sort", state);
    });
  }

  async function load() {
    const q = query();
    document.getElementById("export-calls").href = "/api/exports/calls.csv?" + q.toString();
    q.set("limit", limit); q.set("offset", offset);
    history.replaceState(null, "", "?" + q.toString());
    showSort();
    const tbody = document.querySelector("#calls tbody");
    let page;
    try { page = await DW.api("/api/calls?" + q.toString()); }
    catch (e) { tbody.innerHTML = `<tr><td colspan="9" class="error">${DW.esc(e.message)}</td></tr>`; return; }
    tbody.innerHTML = page.items.length ? "" : `<tr><td colspan="9" class="muted">${DW.t("no_calls")}</td></tr>`;
    page.items.forEach((c) => {
      const tr = document.createElement("tr");
      tr.className = "row"; tr.dataset.id = c.id;
      const corrected = c.outcome_original ? ` <small class="corrected" title="${DW.esc(DW.t("was") + " " + DW.label("outcome", c.outcome_original))}">${DW.t("corrected")}</small>` : "";
      const who = `<a class="acc-link" href="account.html?id=${encodeURIComponent(c.account_id)}">${DW.esc(c.account_name || "—")}</a>` +
        `<br><small class="muted">${DW.esc(c.account_phone || "")}${c.account_external_id ? " · " + DW.esc(c.account_external_id) : ""}</small>`;
      tr.innerHTML = `<td><a class="call-link" href="call.html?id=${encodeURIComponent(c.id)}">${DW.bothTimes(c.started_at, c.account_timezone)}</a></td>` +
        `<td>${who}</td><td class="num">${c.duration_ms != null ? DW.fmtMs(c.duration_ms) : "—"}</td>` +
        `<td>${DW.badge("outcome", c.outcome)}${corrected}</td>` +
        `<td class="num">${c.promise_amount != null ? DW.esc(DW.fmtMoney(c.promise_amount, c.currency)) : ""}</td>` +
        `<td>${DW.esc(c.campaign_name || "")}</td><td>${DW.esc(c.language)}</td><td>${DW.esc(DW.label("status", c.status))}</td>` +
        `<td class="num">${c.review_score != null ? DW.esc(c.review_score) : ""}</td>`;
      tr.addEventListener("click", (ev) => { if (!ev.target.closest("a")) location.href = "call.html?id=" + encodeURIComponent(c.id); });
      tbody.append(tr);
    });
    document.getElementById("count").textContent = `${page.offset + (page.items.length ? 1 : 0)}–${page.offset + page.items.length} ${DW.t("of")} ${page.total}`;
    document.getElementById("prev").disabled = page.offset === 0;
    document.getElementById("next").disabled = page.next_offset == null;
  }

  document.querySelectorAll("#calls th[data-sort] button").forEach((b) => b.addEventListener("click", () => {
    const key = b.parentElement.dataset.sort;
    sort = sort === "-" + key ? key : "-" + key;
    offset = 0; load();
  }));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - limit); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += limit; load(); });
  DW.ready.then(() => {
    const sel = form.elements.outcome;
    (DW.vocab.outcomes || []).forEach((o) => sel.insertAdjacentHTML("beforeend", `<option value="${DW.esc(o)}">${DW.esc(DW.label("outcome", o))}</option>`));
    for (const [k, v] of params) if (form.elements[k] && k !== "campaign_id") form.elements[k].value = v;
    load();
  });
})();
