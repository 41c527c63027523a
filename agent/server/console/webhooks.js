// Webhook deliveries: list by status and re-send.
(function () {
  DW.chrome("webhooks");
  const status = document.getElementById("status");
  async function load() {
    const tbody = document.querySelector("#deliveries tbody");
    let page;
    try { page = await DW.api("/api/webhooks/deliveries?limit=100" + (status.value ? "&status=" + status.value : "")); }
    catch (e) { tbody.innerHTML = `<tr><td colspan="7" class="error">${DW.esc(e.message)}</td></tr>`; return; }
    tbody.innerHTML = "";
    page.items.forEach((d) => {
      const tr = document.createElement("tr");
      tr.dataset.id = d.id;
      tr.innerHTML = `<td>${DW.esc(d.event_type)} <small class="muted">${DW.esc(d.event_id.slice(0, 8))}</small></td>` +
        `<td class="st">${DW.esc(d.status)}</td><td>${d.attempts}</td><td>${DW.esc(d.status === "pending" ? DW.fmtTime(d.next_attempt_at) : "")}</td>` +
        `<td>${DW.esc(d.last_status_code || "")}</td><td class="muted">${DW.esc(d.last_error || "")}</td>` +
        `<td><button class="redeliver" data-i18n="redeliver"></button></td>`;
      tr.querySelector(".redeliver").addEventListener("click", async () => {
        try { await DW.api(`/api/webhooks/deliveries/${d.id}/redeliver`, { method: "POST" }); tr.querySelector(".st").textContent = DW.t("queued"); }
        catch (e) { alert(e.message); }
      });
      tbody.append(tr);
    });
    DW.applyText(tbody);
  }
  status.addEventListener("change", load);
  load();
})();
