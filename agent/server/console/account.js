// Account page: why an account was or was not called. Calls, attempts, compliance blocks (rule id and
// reason), opt-outs, promises, and the gate's verdict for "could we call now?".
(function () {
  DW.chrome("calls");
  const id = DW.param("id");
  const rows = (sel, html) => { document.querySelector(sel + " tbody").innerHTML = html || `<tr><td colspan="5" class="muted">${DW.t("none")}</td></tr>`; };
  const rule = (r) => r ? `<code>${DW.esc(r)}</code> ${DW.esc(DW.label("gate", r))}` : "";

  async function load() {
    let d;
    try { d = await DW.api("/api/accounts/" + encodeURIComponent(id) + "/overview"); }
    catch (e) { document.getElementById("acc-meta").innerHTML = `<span class="error">${DW.esc(e.message)}</span>`; return; }
    const a = d.account, zone = a.timezone;
    document.getElementById("acc-name").textContent = a.name;
    document.getElementById("acc-meta").innerHTML = [
      [DW.t("phone"), a.phone], [DW.t("external_id"), a.external_id || "—"], [DW.t("f_language"), a.language],
      [DW.t("timezone"), a.timezone], [DW.t("balance"), DW.fmtMoney(a.balance, a.currency)],
      [DW.t("days_past_due"), a.days_past_due], [DW.t("bucket"), a.bucket || "—"], [DW.t("id_last4"), a.id_last4 || "—"],
    ].map(([k, v]) => `<span>${DW.esc(k)}: <b>${DW.esc(v)}</b></span>`).join("");
    const g = d.gate, verdict = document.getElementById("gate-verdict");
    verdict.dataset.allowed = String(g.allowed);
    verdict.className = g.allowed ? "ok" : "blocked";
    verdict.innerHTML = g.allowed ? `<b>${DW.t("gate_yes")}</b>`
      : `<b>${DW.t("gate_no")}</b> ${rule(g.rule)} <span class="muted">${DW.esc(g.reason)}</span>`;
    rows("#blocks", d.blocks.map((b) => `<tr class="block" data-rule="${DW.esc(b.rule)}"><td>${DW.bothTimes(b.at, zone)}</td><td>${rule(b.rule)}</td><td>${DW.esc(b.reason)}</td></tr>`).join(""));
    rows("#opt-outs", d.opt_outs.map((o) => `<tr class="opt-out"><td>${DW.bothTimes(o.at, zone)}</td><td>${DW.esc(o.phone)}</td><td>${DW.esc(o.scope)} · ${DW.esc(o.channel)}</td>` +
      `<td>${o.source_call_id ? `<a href="call.html?id=${encodeURIComponent(o.source_call_id)}">${DW.esc(o.source_call_id.slice(0, 8))}</a>` : ""}</td></tr>`).join(""));
    rows("#acc-attempts", d.attempts.map((t) => `<tr class="attempt"><td>${DW.bothTimes(t.dialed_at || t.not_before, zone)}</td><td>${t.attempt_no}</td><td>${DW.esc(t.status)}</td>` +
      `<td>${DW.esc(t.result || "")}</td><td>${rule(t.blocked_rule)}</td></tr>`).join(""));
    rows("#acc-promises", d.promises.map((p) => `<tr class="promise"><td>${DW.esc(DW.fmtDate(p.due_date))}</td><td>${DW.esc(DW.t("ps_" + p.status))}</td>` +
      `<td class="num">${DW.esc(DW.fmtMoney(p.amount, p.currency))}</td><td class="num">${DW.esc(DW.fmtMoney(p.paid_amount, p.currency))}</td></tr>`).join(""));
    document.getElementById("acc-calls-total").textContent = `${d.calls_total}`;
    rows("#acc-calls", d.calls.map((c) => `<tr class="row"><td><a href="call.html?id=${encodeURIComponent(c.id)}">${DW.bothTimes(c.started_at, zone)}</a></td>` +
      `<td class="num">${c.duration_ms != null ? DW.fmtMs(c.duration_ms) : "—"}</td><td>${DW.badge("outcome", c.outcome)}</td>` +
      `<td class="num">${c.promise_amount != null ? DW.esc(DW.fmtMoney(c.promise_amount, c.currency)) : ""}</td><td>${DW.esc(c.campaign_name || "")}</td></tr>`).join(""));
  }
  DW.ready.then(load);
})();
