// Call page: transcript aligned to the stereo recording, waveform, click-to-play, playing-turn highlight.
(function () {
  DW.chrome("calls");
  const id = DW.param("id");
  const audio = document.getElementById("audio");
  const svg = document.getElementById("wave");
  const NS = "http://www.w3.org/2000/svg";
  let turns = [];
  let duration = 0;

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
    const ph = document.getElementById("playhead");
    if (ph && duration) { const x = (audio.currentTime / duration) * 1000; ph.setAttribute("x1", x); ph.setAttribute("x2", x); }
  }

  function playFrom(ms) {
    audio.currentTime = ms / 1000;
    highlight();
    const p = audio.play();
    if (p && p.catch) p.catch(() => {});
  }

  function renderTurns(list) {
    const ol = document.getElementById("turns");
    ol.innerHTML = "";
    list.forEach((t) => {
      const li = document.createElement("li");
      li.className = "turn " + t.speaker;
      li.dataset.seq = t.seq; li.dataset.start = t.start_ms; li.dataset.end = t.end_ms;
      const info = [];
      if (t.intent) info.push(`<span class="intent">${DW.t("intent")}: <b>${DW.esc(t.intent)}</b></span>`);
      if (t.confidence != null) info.push(`<span class="confidence">${DW.t("confidence")}: ${Number(t.confidence).toFixed(2)}</span>`);
      if (t.entities && Object.keys(t.entities).length) info.push(`<span class="entities">${DW.t("entities")}: ${DW.esc(JSON.stringify(t.entities))}</span>`);
      const lat = t.latency || {};
      const latText = Object.keys(lat).map((k) => `${k.replace(/_ms$/, "")} ${lat[k]}ms`).join(", ");
      if (latText) info.push(`<span class="latency">${DW.t("latency")}: ${DW.esc(latText)}</span>`);
      if (t.node) info.push(`<span>${DW.t("node")}: ${DW.esc(t.node)}</span>`);
      li.innerHTML = `<div><div class="who">${DW.t(t.speaker)}</div><div class="muted">${DW.fmtMs(t.start_ms)}</div></div>` +
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
      li.innerHTML = `<code class="rule">${DW.esc(f.rule)}</code> <b>${DW.esc(DW.t(f.rule))}</b> ` +
        `<span class="where">${DW.esc(where)}</span> <span class="muted">${DW.esc(f.detail)}</span>`;
      if (f.turn_seq != null) li.addEventListener("click", () => showTurn(f.turn_seq));
      ul.append(li);
      const turn = document.querySelector(`.turn[data-seq="${f.turn_seq}"]`);
      if (turn) {
        turn.classList.add("flagged");
        turn.querySelector(".info").insertAdjacentHTML("beforeend", `<span class="flag">⚑ ${DW.esc(f.rule)}</span>`);
      }
    });
  }

  async function load() {
    let call;
    try { call = await DW.api("/api/calls/" + encodeURIComponent(id)); }
    catch (e) { document.getElementById("meta").innerHTML = `<span class="error">${DW.esc(e.message)}</span>`; return; }
    document.getElementById("call-id").textContent = call.id;
    turns = call.turns;
    const ended = call.ended_at && call.started_at ? (new Date(call.ended_at) - new Date(call.started_at)) : null;
    document.getElementById("meta").innerHTML = [
      [DW.t("account"), call.account_name], [DW.t("f_language"), call.language], [DW.t("f_script"), call.script_id],
      [DW.t("transport"), call.transport], [DW.t("started"), DW.fmtTime(call.started_at)],
      [DW.t("duration"), ended != null ? DW.fmtMs(ended) : "—"], [DW.t("col_status"), call.status],
      [DW.t("end_reason"), call.end_reason || "—"],
    ].map(([k, v]) => `<span>${k}: <b>${DW.esc(v)}</b></span>`).join("");
    const oc = call.outcome_detail;
    let html = `<span>${DW.t("outcome")}: <span id="outcome" class="badge ${DW.esc(call.outcome || "")}">${DW.esc(call.outcome || "—")}</span></span>`;
    if (oc && (oc.promise_amount != null || oc.promise_date)) {
      html += ` <span id="promise">${DW.t("promise")}: <b>${DW.esc(oc.promise_amount)}</b> ${DW.t("date")} <b>${DW.esc(oc.promise_date || "")}</b></span>`;
    }
    if (oc && oc.callback_at) html += ` <span>${DW.t("callback")}: <b>${DW.esc(DW.fmtTime(oc.callback_at))}</b></span>`;
    document.getElementById("outcome-card").innerHTML = `<div class="meta">${html}</div>`;
    renderTurns(turns);
    loadAudit();
    if (call.has_recording) {
      audio.src = "/api/calls/" + encodeURIComponent(id) + "/recording";
      DW.api("/api/calls/" + encodeURIComponent(id) + "/waveform?points=800").then(drawWave).catch(() => {});
    } else {
      audio.hidden = true; svg.style.display = "none";
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
  load();
})();
