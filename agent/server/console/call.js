// Call page: transcript aligned to the stereo recording, waveform, click-to-play, the playing turn kept in
// view, audit findings on their turns; labels and codes in the page's language.
(function () {
  DW.chrome("calls");
  const id = DW.param("id");
  const audio = document.getElementById("audio");
  const svg = document.getElementById("wave");
  const NS = "http://www.w3.org/2000/svg";
  let turns = [];
  let duration = 0;
  let call = null;
  let playingSeq = null;

  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function drawWave(wf) {
    duration = wf.duration_s || duration;
    svg.innerHTML = "";
    const W = 1000, H = 120, half = H / 2;
    turns.forEach((t) => {
      if (!duration) return;
      const x = (t.start_ms / 1000 / duration) * W, w = Math.max(1, ((t.end_ms - t.start_ms) / 1000 / duration) * W);
      svg.append(el("rect", { x, y: t.speaker === "callee" ? 0 : half, width: w, height: half, fill: "#1f2937", "data-seq": t.seq }));
    });
    const lanes = [["callee", 0, "#f59e0b"], ["agent", half, "#14b8a6"]];
    lanes.forEach(([name, top, color]) => {
      const peaks = (wf.channels || {})[name] || [];
      if (!peaks.length) return;
      const mid = top + half / 2, step = W / peaks.length;
      let d = "";
      peaks.forEach((p, i) => { const h = Math.max(0.5, p * (half / 2 - 2)); d += `M${(i * step).toFixed(1)} ${(mid - h).toFixed(1)}V${(mid + h).toFixed(1)}`; });
      svg.append(el("path", { d, stroke: color, "stroke-width": Math.max(1, step * 0.8), fill: "none", class: "lane-" + name }));
    });
    svg.append(el("line", { id: "playhead", x1: 0, x2: 0, y1: 0, y2: H, stroke: "#ef4444", "stroke-width": 2 }));
  }

  function highlight() {
    const ms = audio.currentTime * 1000;
    let playing = null;
    for (const t of turns) if (ms >= t.start_ms && ms < t.end_ms) playing = t;
    document.querySelectorAll(".turn").forEach((li) => {
      li.classList.toggle("playing", playing != null && Number(li.dataset.seq) === playing.seq);
    });
    if (playing && playing.seq !== playingSeq) {
      const li = document.querySelector(`.turn[data-seq="${playing.seq}"]`);
      if (li) DW.player.keepInView(li);
    }
    playingSeq = playing ? playing.seq : null;
    const ph = document.getElementById("playhead");
    if (ph && duration) { const x = (audio.currentTime / duration) * 1000; ph.setAttribute("x1", x); ph.setAttribute("x2", x); }
  }
  DW.player.onSeek = highlight;

  function playFrom(ms) {
    DW.player.seekMs(ms);
    DW.player.play();
  }

  function entityValue(k, v) {
    if (k === "amount" && typeof v === "number") return DW.fmtMoney(v, call && call.currency);
    if (k === "date" && typeof v === "string") return DW.fmtDate(v);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function renderTurns(list) {
    const ol = document.getElementById("turns");
    ol.innerHTML = "";
    list.forEach((t) => {
      const li = document.createElement("li");
      li.className = "turn " + t.speaker;
      li.dataset.seq = t.seq; li.dataset.start = t.start_ms; li.dataset.end = t.end_ms;
      const info = [];
      if (t.intent) info.push(`<span class="intent" data-intent="${DW.esc(t.intent)}">${DW.t("intent")}: <b>${DW.esc(DW.label("intent", t.intent))}</b></span>`);
      if (t.confidence != null) info.push(`<span class="confidence">${DW.t("confidence")}: ${Number(t.confidence).toFixed(2)}</span>`);
      const ents = Object.entries(t.entities || {}).filter(([, v]) => v != null && v !== "" && !(Array.isArray(v) && !v.length));
      if (ents.length) info.push(`<span class="entities">${ents.map(([k, v]) => `<span class="ent" data-key="${DW.esc(k)}">${DW.esc(DW.label("entity", k))}: <b>${DW.esc(entityValue(k, v))}</b></span>`).join(" ")}</span>`);
      const lat = Object.entries(t.latency || {}).filter(([, v]) => v != null).map(([k, v]) =>
        typeof v === "boolean" ? `${DW.label("latency", k)}: ${DW.t(v ? "yes" : "no")}` : `${DW.label("latency", k)} ${Math.round(Number(v))} ms`);
      if (lat.length) info.push(`<span class="latency">${DW.t("latency")}: ${DW.esc(lat.join(", "))}</span>`);
      if (t.node) info.push(`<span>${DW.t("node")}: ${DW.esc(t.node)}</span>`);
      li.innerHTML = `<div><div class="who">${DW.esc(DW.label("speaker", t.speaker))}</div>` +
        `<div class="muted when"><span class="t-start">${DW.fmtMs(t.start_ms)}</span>–<span class="t-end">${DW.fmtMs(t.end_ms)}</span></div></div>` +
        `<div><div class="text">${DW.esc(t.text)}${t.interrupted ? " …" : ""}</div><div class="info">${info.join("")}</div></div>`;
      li.addEventListener("click", () => playFrom(t.start_ms));
      ol.append(li);
    });
  }

  // the call's audit: each finding with its rule id, pointing at its turn (highlighted in the transcript)
  function showTurn(seq) {
    const li = document.querySelector(`.turn[data-seq="${seq}"]`);
    if (!li) return;
    document.querySelectorAll(".turn.focus").forEach((x) => x.classList.remove("focus"));
    li.classList.add("focus");
    li.scrollIntoView({ block: "center" });
  }

  async function loadAudit() {
    let audit;
    try { audit = await DW.api("/api/audit/calls/" + encodeURIComponent(id)); } catch (e) { return; }
    const ul = document.getElementById("findings");
    ul.innerHTML = "";
    document.getElementById("audit-state").textContent = !audit.audited_at ? DW.t("audit_pending")
      : audit.findings.length ? `${audit.findings.length} ${DW.t("audit_findings")}` : DW.t("audit_clean");
    audit.findings.forEach((f) => {
      const li = document.createElement("li");
      li.className = "finding " + f.severity;
      li.dataset.rule = f.rule;
      if (f.turn_seq != null) li.dataset.seq = f.turn_seq;
      const where = f.turn_seq != null ? DW.t("audit_turn_n").replace("{n}", f.turn_seq) : DW.t("audit_whole_call");
      li.innerHTML = `<code class="rule">${DW.esc(f.rule)}</code> <b>${DW.esc(DW.label("audit", f.rule))}</b> ` +
        `<span class="where">${DW.esc(where)}</span> <span class="muted">${DW.esc(f.detail)}</span>`;
      if (f.turn_seq != null) { li.tabIndex = 0; li.addEventListener("click", () => showTurn(f.turn_seq)); }
      ul.append(li);
      const turn = document.querySelector(`.turn[data-seq="${f.turn_seq}"]`);
      if (turn) {
        turn.classList.add("flagged");
        turn.querySelector(".info").insertAdjacentHTML("beforeend", `<span class="flag">⚑ ${DW.esc(f.rule)}</span>`);
      }
    });
  }

  function renderHead() {
    const c = call;
    const acc = `<a id="account-link" href="account.html?id=${encodeURIComponent(c.account_id)}">${DW.esc(c.account_name || "—")}</a>`;
    const rows = [
      [DW.t("account"), acc, true], [DW.t("phone"), c.account_phone], [DW.t("external_id"), c.account_external_id || "—"],
      [DW.t("f_language"), c.language], [DW.t("f_script"), c.script_id], [DW.t("f_campaign"), c.campaign_name || "—"],
      [DW.t("transport"), c.transport], [DW.t("started"), DW.bothTimes(c.started_at, c.account_timezone), true],
      [DW.t("duration"), c.duration_ms != null ? DW.fmtMs(c.duration_ms) : "—"], [DW.t("col_status"), DW.label("status", c.status)],
      [DW.t("end_reason"), DW.label("end_reason", c.end_reason)],
    ];
    document.getElementById("meta").innerHTML = rows.map(([k, v, html]) => `<span>${DW.esc(k)}: <b>${html ? v : DW.esc(v)}</b></span>`).join("");
    const oc = c.outcome_detail;
    let html = `<span>${DW.t("outcome")}: ${DW.badge("outcome", c.outcome, "outcome")}</span>`;
    if (c.outcome_original) html += ` <span id="outcome-corrected" class="corrected">${DW.esc(DW.t("corrected"))} · ${DW.esc(DW.t("was"))} ${DW.esc(DW.label("outcome", c.outcome_original))}</span>`;
    if (oc && (oc.promise_amount != null || oc.promise_date)) {
      html += ` <span id="promise">${DW.t("promise")}: <b>${DW.esc(DW.fmtMoney(oc.promise_amount, c.currency))}</b> ${DW.t("date")} <b>${DW.esc(DW.fmtDate(oc.promise_date || ""))}</b></span>`;
    }
    if (oc && oc.callback_at) html += ` <span>${DW.t("callback")}: <b>${DW.bothTimes(oc.callback_at, c.account_timezone)}</b></span>`;
    document.getElementById("outcome-card").innerHTML = `<div class="meta">${html}</div>`;
  }

  async function load() {
    try { call = await DW.api("/api/calls/" + encodeURIComponent(id)); }
    catch (e) { document.getElementById("meta").innerHTML = `<span class="error">${DW.esc(e.message)}</span>`; return; }
    document.getElementById("call-id").textContent = call.id;
    turns = DW.player.turns = call.turns;
    renderHead();
    renderTurns(turns);
    loadAudit();
    DW.review.load(id, call, (outcome, original) => { call.outcome = outcome; call.outcome_original = original; renderHead(); });
    if (call.has_recording) {
      const src = "/api/calls/" + encodeURIComponent(id) + "/recording";
      audio.src = src;
      document.getElementById("download").href = src + "?download=true";
      DW.api("/api/calls/" + encodeURIComponent(id) + "/waveform?points=800").then(drawWave).catch(() => {});
    } else {
      audio.hidden = true; svg.style.display = "none";
      document.getElementById("controls").hidden = true;
      document.getElementById("no-recording").hidden = false;
    }
  }

  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);
  audio.addEventListener("loadedmetadata", () => { if (!duration) duration = audio.duration; });
  let raf = null;
  audio.addEventListener("play", () => { const tick = () => { highlight(); raf = requestAnimationFrame(tick); }; tick(); });
  audio.addEventListener("pause", () => { if (raf) cancelAnimationFrame(raf); highlight(); });
  svg.addEventListener("click", (ev) => {
    const box = svg.getBoundingClientRect();
    const d = duration || audio.duration;
    if (d) playFrom(((ev.clientX - box.left) / box.width) * d * 1000);
  });
  DW.ready.then(load);
})();
