// Campaign dashboard: funnel, outcomes by script variant and by local hour (inline SVG), start/pause.
(function () {
  DW.chrome("campaigns");
  const NS = "http://www.w3.org/2000/svg";
  const sel = document.getElementById("campaign");
  const COLORS = { ptp: "#16a34a", converted: "#16a34a", paid_already: "#22c55e", right_party: "#0ea5e9", callback: "#6366f1",
    refused: "#dc2626", dispute: "#b91c1c", not_interested: "#f97316", wrong_number: "#a16207", third_party: "#ca8a04",
    no_answer: "#9ca3af", busy: "#6b7280", voicemail: "#d1d5db", hung_up: "#78716c", opted_out: "#7c3aed", transferred: "#0891b2" };

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function drawFunnel(stats) {
    const svg = document.getElementById("funnel"); svg.innerHTML = "";
    const max = Math.max(1, stats.funnel[0].count);
    stats.funnel.forEach((f, i) => {
      const w = Math.max(2, (f.count / max) * 300), y = 10 + i * 42;
      svg.append(el("text", { x: 0, y: y + 20 }, DW.t(f.stage)));
      svg.append(el("rect", { x: 150, y, width: w, height: 30, fill: ["#1d4ed8", "#2563eb", "#3b82f6", "#16a34a"][i], class: "funnel-bar", "data-stage": f.stage, "data-count": f.count }));
      const pct = i ? ` (${Math.round((f.count / max) * 100)}%)` : "";
      svg.append(el("text", { x: 156 + w, y: y + 20 }, `${f.count}${pct}`));
    });
  }

  function drawHours(stats) {
    const svg = document.getElementById("hours"); svg.innerHTML = "";
    const max = Math.max(1, ...stats.by_hour.map((h) => h.calls));
    stats.by_hour.forEach((h) => {
      const x = 20 + h.hour * 19, hc = (h.calls / max) * 130, ha = (h.answered / max) * 130;
      svg.append(el("rect", { x, y: 150 - hc, width: 15, height: hc, fill: "#cbd5e1", class: "hour-bar", "data-hour": h.hour, "data-calls": h.calls }));
      svg.append(el("rect", { x, y: 150 - ha, width: 15, height: ha, fill: "#2563eb" }));
      if (h.hour % 3 === 0) svg.append(el("text", { x, y: 165 }, String(h.hour)));
    });
    svg.append(el("rect", { x: 330, y: 2, width: 10, height: 10, fill: "#cbd5e1" }));
    svg.append(el("text", { x: 344, y: 11 }, DW.t("calls_legend")));
    svg.append(el("rect", { x: 400, y: 2, width: 10, height: 10, fill: "#2563eb" }));
    svg.append(el("text", { x: 414, y: 11 }, DW.t("answered_legend")));
  }

  function drawVariants(stats) {
    const svg = document.getElementById("variants"); svg.innerHTML = "";
    const rows = stats.by_variant;
    svg.setAttribute("viewBox", `0 0 1000 ${Math.max(40, rows.length * 30 + 10)}`);
    const tbody = document.querySelector("#variant-table tbody"); tbody.innerHTML = "";
    rows.forEach((v, i) => {
      let x = 220;
      svg.append(el("text", { x: 0, y: 22 + i * 30 }, v.variant));
      Object.entries(v.outcomes).forEach(([k, n]) => {
        const w = (n / Math.max(1, v.calls)) * 740;
        const r = el("rect", { x, y: 8 + i * 30, width: w, height: 20, fill: COLORS[k] || "#94a3b8", class: "variant-seg" });
        r.append(el("title", {}, `${k}: ${n}`)); svg.append(r); x += w;
      });
      tbody.insertAdjacentHTML("beforeend", `<tr><td>${DW.esc(v.variant)}</td><td>${v.calls}</td><td>${(v.success_rate * 100).toFixed(1)}%</td>` +
        `<td>${Object.entries(v.outcomes).map(([k, n]) => `${DW.esc(k)} ${n}`).join(", ")}</td></tr>`);
    });
  }

  // the funnel per variant, segment or local hour: dialled -> connected -> right party -> promise -> kept,
  // each step's conversion; kept per dial with its 95 % interval; cost per kept promise; A/B differences
  const STAGE_KEYS = { dialled: "dialled", connected: "st_connected", right_party: "right_party", promise: "st_promise", kept: "st_kept" };
  const STAGE_COLORS = ["#1d4ed8", "#2563eb", "#0ea5e9", "#16a34a", "#15803d"];
  const pct = (r) => (100 * r).toFixed(1) + "%";

  function groupName(by, g) {
    return by === "hour" ? (g == null ? "—" : String(g).padStart(2, "0") + ":00") : String(g);
  }

  function drawFunnelGroups(rep, by) {
    const svg = document.getElementById("funnel-groups"); svg.innerHTML = "";
    const rows = rep.by[by] || [];
    const H = 30, top = 22, X0 = 230, W = 150;
    svg.setAttribute("viewBox", `0 0 1000 ${Math.max(60, top + rows.length * H + 6)}`);
    rep.stages.forEach((st, j) => svg.append(el("text", { x: X0 + j * W, y: 12 }, DW.t(STAGE_KEYS[st]))));
    rows.forEach((row, i) => {
      const y = top + i * H, name = groupName(by, row.group);
      svg.append(el("text", { x: 0, y: y + 15, class: "fg-label" }, name.length > 34 ? name.slice(0, 33) + "…" : name));
      row.stages.forEach((st, j) => {
        const w = row.dials ? (st.count / row.dials) * (W - 60) : 0;
        const r = el("rect", { x: X0 + j * W, y, width: Math.max(1, w), height: 20, fill: STAGE_COLORS[j], class: "funnel-cell",
          "data-group": name, "data-stage": st.stage, "data-count": st.count });
        r.append(el("title", {}, `${DW.t(STAGE_KEYS[st.stage])}: ${st.count}` + (st.step ? ` (${pct(st.step.rate)})` : "")));
        svg.append(r);
        svg.append(el("text", { x: X0 + j * W + Math.max(1, w) + 3, y: y + 14 }, st.step ? `${st.count} · ${pct(st.step.rate)}` : String(st.count)));
      });
      const kept = row.stages[row.stages.length - 1].per_dial, x = X0 + 4 * W;
      svg.append(el("line", { x1: x + kept.ci_low * (W - 60), x2: x + kept.ci_high * (W - 60), y1: y + 10, y2: y + 10, class: "ci-line",
        "data-group": name, "data-low": kept.ci_low, "data-high": kept.ci_high }));
    });
  }

  function fillFunnelTable(rep, by) {
    const tb = document.querySelector("#funnel-table tbody"); tb.innerHTML = "";
    (rep.by[by] || []).concat([rep.total]).forEach((row) => {
      const cells = row.stages.slice(1).map((st) => `<td class="num">${st.count} <small class="muted">${pct(st.step.rate)}</small></td>`).join("");
      const kept = row.stages[row.stages.length - 1].per_dial;
      const cost = row.cost_per_kept != null ? DW.fmtMoney(row.cost_per_kept, rep.currency) : "—";
      const name = row.group === "total" ? DW.t("fg_total") : groupName(by, row.group);
      tb.insertAdjacentHTML("beforeend", `<tr class="funnel-row" data-group="${DW.esc(name)}"><td>${DW.esc(name)}</td><td class="num">${row.dials}</td>${cells}` +
        `<td class="num">${pct(kept.rate)} <small class="muted">[${pct(kept.ci_low)}–${pct(kept.ci_high)}]</small></td><td class="num cost">${DW.esc(cost)}</td></tr>`);
    });
    const ul = document.getElementById("ab-comparisons"); ul.innerHTML = "";
    (rep.comparisons || []).forEach((c) => {
      const pp = (v) => (v >= 0 ? "+" : "") + (100 * v).toFixed(1);
      ul.insertAdjacentHTML("beforeend", `<li class="ab" data-metric="${DW.esc(c.metric)}">${DW.esc(c.b)} ${DW.esc(DW.t("ab_vs"))} ${DW.esc(c.a)} · ` +
        `${DW.esc(DW.t("ab_" + c.metric))}: ${pp(c.difference)} pp [${pp(c.ci_low)}, ${pp(c.ci_high)}] · ${DW.esc(DW.t(c.significant ? "ab_significant" : "ab_not_significant"))}</li>`);
    });
  }

  async function loadFunnel(id) {
    const by = document.getElementById("funnel-by").value;
    const rep = await DW.api(`/api/campaigns/${encodeURIComponent(id)}/funnel?by=${by}`);
    drawFunnelGroups(rep, by); fillFunnelTable(rep, by);
  }
  document.getElementById("funnel-by").addEventListener("change", () => { if (sel.value) loadFunnel(sel.value).catch(() => {}); });

  // attempts and calls, refreshed every 2 s while the page is open (dialling shows up as it happens)
  async function loadLive(id) {
    const [atts, calls] = await Promise.all([DW.api(`/api/campaigns/${id}/attempts?limit=200`),
      DW.api(`/api/calls?campaign_id=${encodeURIComponent(id)}&limit=20`)]);
    const counts = {};
    atts.items.forEach((a) => { counts[a.status] = (counts[a.status] || 0) + 1; });
    document.getElementById("attempt-counts").textContent =
      Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(" · ") + (atts.total > atts.items.length ? ` (${atts.total})` : "");
    const tb = document.querySelector("#attempts tbody");
    tb.innerHTML = atts.items.length ? "" : `<tr><td colspan="6" class="muted">${DW.esc(DW.t("no_attempts"))}</td></tr>`;
    atts.items.slice(-50).reverse().forEach((a) => tb.insertAdjacentHTML("beforeend",
      `<tr class="attempt" data-status="${DW.esc(a.status)}"><td>${DW.esc(a.account_id.slice(0, 8))}</td><td>${a.attempt_no}</td>` +
      `<td>${DW.esc(a.status)}</td><td>${DW.esc(a.result || "")}</td><td>${DW.esc(a.blocked_rule || "")}</td>` +
      `<td>${DW.esc(DW.fmtTime(a.not_before))}</td></tr>`));
    const cb = document.querySelector("#camp-calls tbody"); cb.innerHTML = "";
    calls.items.forEach((c) => cb.insertAdjacentHTML("beforeend",
      `<tr class="camp-call"><td><a href="call.html?id=${DW.esc(c.id)}">${DW.esc(DW.fmtTime(c.started_at) || c.id.slice(0, 8))}</a></td>` +
      `<td>${DW.esc(c.status)}</td><td>${DW.esc(c.outcome || "")}</td></tr>`));
  }

  async function load(id) {
    const [camp, stats] = await Promise.all([DW.api("/api/campaigns/" + id), DW.api(`/api/campaigns/${id}/stats`)]);
    document.getElementById("status").textContent = camp.status;
    document.getElementById("network").value = camp.network || "";
    document.getElementById("max-concurrent").value = camp.max_concurrent;
    drawFunnel(stats); drawHours(stats); drawVariants(stats);
    loadFunnel(id).catch(() => {});
    await loadLive(id);
  }

  setInterval(() => { if (sel.value && !document.hidden) loadLive(sel.value).catch(() => {}); }, 2000);
  document.getElementById("save").addEventListener("click", async () => {
    const body = { max_concurrent: Number(document.getElementById("max-concurrent").value),
      network: document.getElementById("network").value || null };
    try { await DW.api("/api/campaigns/" + sel.value, { method: "PATCH", json: body }); } catch (e) { alert(e.message); }
    load(sel.value);
  });

  async function move(action) {
    try { await DW.api(`/api/campaigns/${sel.value}/${action}`, { method: "POST" }); } catch (e) { alert(e.message); }
    load(sel.value);
  }
  document.getElementById("start").addEventListener("click", () => move("start"));
  document.getElementById("pause").addEventListener("click", () => move("pause"));
  sel.addEventListener("change", () => { history.replaceState(null, "", "?id=" + sel.value); load(sel.value); });

  DW.api("/api/campaigns?limit=200").then((page) => {
    page.items.forEach((c) => sel.insertAdjacentHTML("beforeend", `<option value="${DW.esc(c.id)}">${DW.esc(c.name)}</option>`));
    const want = DW.param("id");
    if (want) sel.value = want;
    if (sel.value) load(sel.value);
  }).catch(() => {});
})();
