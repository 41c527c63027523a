// Live monitor: ongoing calls and their turns, pushed over a websocket as they are written; listen in to a
// call (a read-only stream of both channels, /ws/listen) with the agent or the callee solo.
(function () {
  DW.chrome("live");
  const box = document.getElementById("live-calls");
  const state = document.getElementById("ws-state");
  const none = document.getElementById("live-none");
  let retry = 500;

  const showEmpty = () => { none.hidden = box.querySelector(".live-call") != null; };

  function card(c) {
    let div = document.getElementById("live-" + c.id);
    if (div) return div;
    div = document.createElement("div");
    div.className = "live-call"; div.id = "live-" + c.id; div.dataset.id = c.id;
    div.innerHTML = `<div class="meta"><b><a href="call.html?id=${encodeURIComponent(c.id)}">${DW.esc(c.id.slice(0, 8))}</a></b>` +
      `<span>${DW.esc(c.account || "")} ${DW.esc(c.phone || "")}</span><span>${DW.esc(c.language)}</span><span>${DW.esc(c.script_id)}</span>` +
      `<span class="status badge">${DW.esc(DW.label("status", "live"))}</span>` +
      `<button type="button" class="listen" aria-pressed="false">${DW.t("listen_in")}</button>` +
      `<label class="listen-solo"><span>${DW.t("listen_to")}</span> <select class="solo"><option value="both">${DW.t("solo_both")}</option>` +
      `<option value="agent">${DW.t("agent")}</option><option value="callee">${DW.t("callee")}</option></select></label>` +
      `<span class="listen-state muted" role="status"></span></div><ol class="turns"></ol>`;
    div.querySelector(".listen").addEventListener("click", () => (L.callId === c.id ? stopListen() : startListen(c.id)));
    div.querySelector(".solo").addEventListener("change", (ev) => { if (L.callId === c.id) L.solo = ev.target.value; });
    box.append(div);
    return div;
  }

  function addTurn(callId, t) {
    const div = document.getElementById("live-" + callId);
    if (!div || div.querySelector(`[data-turn="${t.id}"]`)) return;
    const li = document.createElement("li");
    li.className = "turn " + t.speaker; li.dataset.turn = t.id;
    const extra = t.intent ? ` <span class="muted">${DW.esc(DW.label("intent", t.intent))} ${t.confidence != null ? Number(t.confidence).toFixed(2) : ""}</span>` : "";
    li.innerHTML = `<div class="who">${DW.esc(DW.label("speaker", t.speaker))}</div><div class="text">${DW.esc(t.text)}${extra}</div>`;
    const ol = div.querySelector(".turns");
    ol.append(li); ol.scrollTop = ol.scrollHeight;
  }

  // ---- listen-in ------------------------------------------------------------------------------
  const L = (DW.listen = { ws: null, ctx: null, callId: null, solo: "both", seconds: 0, peaks: [0, 0], rate: 16000, at: 0 });

  function listenState(key, extra) {
    const div = L.callId && document.getElementById("live-" + L.callId);
    if (!div) return;
    div.querySelector(".listen-state").textContent = DW.t(key) + (extra || "");
    div.dataset.listenSeconds = L.seconds.toFixed(2);
    div.dataset.peakCallee = L.peaks[0].toFixed(3); div.dataset.peakAgent = L.peaks[1].toFixed(3);
  }

  function play(buf) {
    const pcm = new Int16Array(buf), n = pcm.length >> 1;
    if (!n) return;
    const ab = L.ctx.createBuffer(2, n, L.rate), left = ab.getChannelData(0), right = ab.getChannelData(1);
    for (let i = 0; i < n; i++) {
      const c = pcm[2 * i] / 32768, a = pcm[2 * i + 1] / 32768;
      L.peaks[0] = Math.max(L.peaks[0], Math.abs(c)); L.peaks[1] = Math.max(L.peaks[1], Math.abs(a));
      left[i] = L.solo === "agent" ? a : c; right[i] = L.solo === "callee" ? c : a;
    }
    const src = L.ctx.createBufferSource();
    src.buffer = ab; src.connect(L.ctx.destination);
    L.at = Math.max(L.at, L.ctx.currentTime + 0.08);
    src.start(L.at); L.at += ab.duration;
    L.seconds += n / L.rate;
    listenState("listening", ` · ${L.seconds.toFixed(1)} s`);
  }

  function startListen(callId) {
    stopListen();
    const Ctx = window.AudioContext || window.webkitAudioContext;
    L.ctx = new Ctx(); L.callId = callId; L.seconds = 0; L.peaks = [0, 0]; L.at = 0;
    const div = document.getElementById("live-" + callId);
    L.solo = div.querySelector(".solo").value;
    div.querySelector(".listen").setAttribute("aria-pressed", "true");
    div.querySelector(".listen").textContent = DW.t("listen_stop");
    const ws = (L.ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/listen?call_id=" + encodeURIComponent(callId)));
    ws.binaryType = "arraybuffer";
    listenState("connecting");
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") { play(ev.data); return; }
      const m = JSON.parse(ev.data);
      if (m.type === "format") { L.rate = m.rate; listenState("listening"); }
      else if (m.type === "ended") { listenState("listen_ended"); }
      else if (m.type === "unavailable") { listenState("listen_unavailable"); }
    };
    ws.onclose = (ev) => {
      if (L.ws !== ws) return;
      if (ev.code === 4403) listenState("listen_forbidden");
      const div2 = document.getElementById("live-" + callId);
      if (div2) { div2.querySelector(".listen").setAttribute("aria-pressed", "false"); div2.querySelector(".listen").textContent = DW.t("listen_in"); div2.dataset.listenClosed = "1"; }
    };
  }

  function stopListen() {
    if (L.ws) { const ws = L.ws; L.ws = null; ws.close(); }
    if (L.ctx) { L.ctx.close(); L.ctx = null; }
    const div = L.callId && document.getElementById("live-" + L.callId);
    if (div) { div.querySelector(".listen").setAttribute("aria-pressed", "false"); div.querySelector(".listen").textContent = DW.t("listen_in"); }
    L.callId = null;
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live");
    ws.onopen = () => { state.textContent = DW.t("live_connected"); retry = 500; };
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === "calls") m.calls.forEach(card);
      else if (m.type === "turn") addTurn(m.call_id, m.turn);
      else if (m.type === "ended") {
        const div = document.getElementById("live-" + m.call_id);
        if (div) {
          const st = div.querySelector(".status");
          st.textContent = m.outcome ? DW.label("outcome", m.outcome) : DW.label("status", m.status);
          st.dataset.code = m.outcome || m.status;
          setTimeout(() => { if (L.callId === m.call_id) stopListen(); div.remove(); showEmpty(); }, 5000);
        }
      }
      showEmpty();
    };
    ws.onclose = (ev) => {
      state.textContent = DW.t("live_closed");
      if (ev.code === 4401) { DW.showLogin(); return; }
      setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
    };
  }
  DW.ready.then(() => DW.api("/api/me")).then(connect).catch(() => {});
})();
