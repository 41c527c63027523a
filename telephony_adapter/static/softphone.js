// dialwise softphone: microphone -> PCM16 16 kHz over a websocket; agent audio played as it arrives.
// Counters on <body> (for tests and support; updated as they change):
//   data-call-id          the call in progress (from the server's {"type": "call"} message)
//   data-mic-chunks       microphone chunks sent to the server
//   data-agent-frames     binary agent-audio frames received (20 ms each)
//   data-agent-played-ms  agent audio that finished playing on the AudioContext clock (not stopped by a clear)
//   data-clears           {"type": "clear"} messages received (barge-in)
"use strict";
(() => {
  const RATE = 16000;
  const T = {
    zh: { title: "dialwise 软电话", key: "API 密钥", load: "加载", account: "账户", script: "话术", call: "呼叫",
          hangup: "挂断", idle: "空闲", transcript: "实时转写", connecting: "连接中…", live: "通话中",
          ended: "通话结束", agent: "坐席", callee: "客户", needkey: "请输入有写权限的 API 密钥", nomic: "无法使用麦克风",
          console: "返回控制台" },
    en: { title: "dialwise softphone", key: "API key", load: "Load", account: "Account", script: "Script", call: "Call",
          hangup: "Hang up", idle: "Idle", transcript: "Live transcript", connecting: "Connecting…", live: "On the call",
          ended: "Call ended", agent: "Agent", callee: "Callee", needkey: "Enter an API key with write access", nomic: "Microphone unavailable",
          console: "Back to the console" },
  };
  // the console's language setting (same origin, same key): one choice for both
  let lang = localStorage.getItem("dw_lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
  const $ = (id) => document.getElementById(id);
  const t = (k) => T[lang][k] || k;
  let ws = null, ctx = null, micStream = null, proc = null, playAt = 0, sources = [], scripts = [], statusKey = "idle";
  const stats = { micChunks: 0, agentFrames: 0, agentPlayedMs: 0, clears: 0 };
  function count(name, by) {  // stats.agentPlayedMs -> <body data-agent-played-ms="...">
    stats[name] += by;
    document.body.dataset[name] = String(Math.round(stats[name]));
  }

  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $("lang").textContent = lang === "zh" ? "EN" : "中文";
    setStatus(statusKey);
  }
  function setStatus(key, extra, isError) {
    statusKey = key;
    $("status").textContent = t(key) + (extra ? ": " + extra : "");
    $("status").classList.toggle("error", !!isError);
  }
  // A typed key signs in as the console does (/console/session sets its HttpOnly cookie): the options
  // request and the websocket handshake then carry the cookie, and the server checks it before it
  // accepts the socket (a browser cannot put an Authorization header on a websocket).
  async function signIn() {
    const key = $("key").value.trim();
    if (!key) { setStatus("needkey", "", true); return; }
    const r = await fetch("/console/session", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key }) });
    $("key").value = "";
    if (!r.ok) { setStatus("needkey", `HTTP ${r.status}`, true); return; }
    await loadOptions();
  }
  async function loadOptions() {
    const r = await fetch("/softphone/options", { credentials: "same-origin" });
    if (r.status === 401) { $("key-row").hidden = false; setStatus("needkey", "", true); return; }
    if (!r.ok) { setStatus("idle", `HTTP ${r.status}`, true); return; }
    const data = await r.json();
    if (statusKey === "needkey" || statusKey === "idle") setStatus("idle");  // the key worked: clear the error
    $("account").innerHTML = "";
    for (const a of data.accounts) {
      const o = new Option(`${a.name} · ${a.language} · ${a.balance} ${a.currency}`, a.id);
      o.dataset.language = a.language;
      $("account").add(o);
    }
    scripts = data.scripts;
    fillScripts();
  }
  function fillScripts() {
    const sel = $("account").selectedOptions[0];
    const want = sel ? sel.dataset.language : null;
    $("script").innerHTML = "";
    for (const s of scripts.filter((s) => !want || s.language === want)) $("script").add(new Option(`${s.id} (${s.purpose})`, s.id));
  }
  function stopPlayback() {
    for (const s of sources) { s.cut = true; try { s.stop(); } catch (e) { /* already ended */ } }
    sources = [];
    playAt = ctx ? ctx.currentTime : 0;
  }
  function play(buf) {
    const pcm = new Int16Array(buf);
    const audio = ctx.createBuffer(1, pcm.length, RATE);
    const ch = audio.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const src = ctx.createBufferSource();
    src.buffer = audio;
    src.connect(ctx.destination);
    playAt = Math.max(playAt, ctx.currentTime + 0.05);
    src.start(playAt);
    playAt += audio.duration;
    sources.push(src);
    src.onended = () => {
      sources = sources.filter((x) => x !== src);
      if (!src.cut) count("agentPlayedMs", audio.duration * 1000);
    };
  }
  function showTurn(m) {
    let li = document.querySelector(`#transcript li[data-id="${m.id}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = m.id;
      $("transcript").appendChild(li);
    }
    li.className = m.speaker + (m.interrupted ? " interrupted" : "");
    li.innerHTML = "";
    const who = document.createElement("small");
    who.textContent = t(m.speaker) + (m.intent ? " · " + m.intent : "");
    li.append(who, document.createTextNode(m.text || "…"));
    li.scrollIntoView({ block: "end" });
  }
  async function startCall() {
    $("transcript").innerHTML = "";
    setStatus("connecting");
    try {
      ctx = new AudioContext({ sampleRate: RATE });
      micStream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } });
    } catch (e) { setStatus("nomic", String(e), true); return; }
    const proto = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${proto}://${location.host}/softphone/ws`);
    ws.binaryType = "arraybuffer";
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ type: "start", account_id: $("account").value, script_id: $("script").value }));
      const src = ctx.createMediaStreamSource(micStream);
      proc = ctx.createScriptProcessor(1024, 1, 1);
      proc.onaudioprocess = (ev) => {
        const f = ev.inputBuffer.getChannelData(0);
        const out = new Int16Array(f.length);
        let peak = 0;
        for (let i = 0; i < f.length; i++) { const v = Math.max(-1, Math.min(1, f[i])); out[i] = v * 32767; peak = Math.max(peak, Math.abs(v)); }
        $("level").value = peak;
        if (ws && ws.readyState === WebSocket.OPEN) { ws.send(out.buffer); count("micChunks", 1); }
      };
      src.connect(proc);
      proc.connect(ctx.destination);
      $("call").disabled = true; $("hangup").disabled = false;
      setStatus("live");
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") { count("agentFrames", 1); play(ev.data); return; }
      const m = JSON.parse(ev.data);
      if (m.type === "clear") { count("clears", 1); stopPlayback(); }
      else if (m.type === "turn") showTurn(m);
      else if (m.type === "call") { document.body.dataset.callId = m.call_id; setStatus("live", m.call_id); }
      else if (m.type === "ended") setStatus("ended", m.outcome);
      else if (m.type === "error") setStatus("ended", m.message, true);
    };
    ws.onclose = () => {
      // refused at the handshake (HTTP 403: no key with write access): ask for one, as the options do
      if (!opened) { $("key-row").hidden = false; setStatus("needkey", "", true); }
      cleanup();
    };
  }
  function cleanup() {
    if (proc) { proc.disconnect(); proc = null; }
    if (micStream) { micStream.getTracks().forEach((tr) => tr.stop()); micStream = null; }
    setTimeout(() => { if (ctx && !ws) { ctx.close(); ctx = null; } }, 3000);
    ws = null;
    $("call").disabled = false; $("hangup").disabled = true;
    if (statusKey === "live" || statusKey === "connecting") setStatus("ended");
  }
  function hangup() { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "hangup" })); }

  for (const d of "123456789*0#") {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = d;
    b.onclick = () => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "dtmf", digit: d })); };
    $("keypad").appendChild(b);
  }
  $("lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("dw_lang", lang); applyLang(); };
  $("account").onchange = fillScripts;
  $("call").onclick = startCall;
  $("hangup").onclick = hangup;
  $("load").onclick = signIn;
  applyLang();
  loadOptions();
})();
