// Live monitor: ongoing calls and their turns, pushed over a websocket as they are written.
(function () {
  DW.chrome("live");
  const box = document.getElementById("live-calls");
  const state = document.getElementById("ws-state");
  const none = document.getElementById("live-none");
  let retry = 500;

  function card(c) {
    let div = document.getElementById("live-" + c.id);
    if (div) return div;
    div = document.createElement("div");
    div.className = "live-call"; div.id = "live-" + c.id; div.dataset.id = c.id;
    div.innerHTML = `<div class="meta"><b><a href="call.html?id=${encodeURIComponent(c.id)}">${DW.esc(c.id.slice(0, 8))}</a></b>` +
      `<span>${DW.esc(c.account || "")} ${DW.esc(c.phone || "")}</span><span>${DW.esc(c.language)}</span><span>${DW.esc(c.script_id)}</span>` +
      `<span class="status badge">live</span></div><ol class="turns"></ol>`;
    box.append(div);
    return div;
  }

  function addTurn(callId, t) {
    const div = document.getElementById("live-" + callId);
    if (!div || div.querySelector(`[data-turn="${t.id}"]`)) return;
    const li = document.createElement("li");
    li.className = "turn " + t.speaker; li.dataset.turn = t.id;
    const extra = t.intent ? ` <span class="muted">${DW.esc(t.intent)} ${t.confidence != null ? Number(t.confidence).toFixed(2) : ""}</span>` : "";
    li.innerHTML = `<div class="who">${DW.t(t.speaker)}</div><div class="text">${DW.esc(t.text)}${extra}</div>`;
    const ol = div.querySelector(".turns");
    ol.append(li); ol.scrollTop = ol.scrollHeight;
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
        if (div) { div.querySelector(".status").textContent = m.outcome || m.status; setTimeout(() => div.remove(), 5000); }
      }
      none.hidden = box.children.length > 0;
    };
    ws.onclose = (ev) => {
      state.textContent = DW.t("live_closed");
      if (ev.code === 4401) { DW.showLogin(); return; }
      setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
    };
  }
  DW.api("/api/me").then(connect).catch(() => {});
})();
