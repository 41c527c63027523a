// The call page's player: playback speed, solo agent/callee channel (Web Audio), keyboard shortcuts
// (space, ←/→ per turn, J/K ∓5 s), the current turn kept in view below the sticky player.
(function () {
  const audio = document.getElementById("audio");
  const P = (DW.player = { turns: [], solo: "both" });
  let graph = null;

  function buildGraph() { // recording: callee left, agent right
    if (graph) return graph;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    const ctx = new Ctx();
    const src = ctx.createMediaElementSource(audio);
    const split = ctx.createChannelSplitter(2), merge = ctx.createChannelMerger(2);
    const g = {};
    [["LL", 0, 0], ["LR", 0, 1], ["RL", 1, 0], ["RR", 1, 1]].forEach(([name, from, to]) => {
      g[name] = ctx.createGain(); split.connect(g[name], from); g[name].connect(merge, 0, to);
    });
    const analyser = ctx.createAnalyser(); analyser.fftSize = 2048;
    src.connect(split); merge.connect(analyser); analyser.connect(ctx.destination);
    graph = { ctx, g, analyser };
    applySolo();
    return graph;
  }

  function applySolo() {
    if (!graph) return;
    const s = P.solo, v = { LL: 1, LR: 0, RL: 0, RR: 1 };
    if (s === "callee") Object.assign(v, { LL: 1, LR: 1, RL: 0, RR: 0 });
    if (s === "agent") Object.assign(v, { LL: 0, LR: 0, RL: 1, RR: 1 });
    for (const k in v) graph.g[k].gain.value = v[k];
  }

  P.setSolo = (mode) => {
    P.solo = mode; audio.dataset.solo = mode;
    buildGraph(); applySolo();
    if (graph && graph.ctx.state === "suspended") graph.ctx.resume();
  };
  // what reaches the speakers now (RMS of the graph's output), for the page and its tests
  P.level = () => {
    if (!graph) return null;
    const buf = new Float32Array(graph.analyser.fftSize);
    graph.analyser.getFloatTimeDomainData(buf);
    let sum = 0; for (const x of buf) sum += x * x;
    return Math.sqrt(sum / buf.length);
  };

  P.play = () => { buildGraph(); if (graph && graph.ctx.state === "suspended") graph.ctx.resume(); const p = audio.play(); if (p && p.catch) p.catch(() => {}); };
  P.seekMs = (ms) => { audio.currentTime = Math.max(0, ms / 1000); if (P.onSeek) P.onSeek(); };
  P.toggle = () => { if (audio.paused) P.play(); else audio.pause(); };
  P.stepTurn = (dir) => {
    const now = audio.currentTime * 1000, turns = P.turns;
    if (!turns.length) return;
    let target;
    if (dir > 0) target = turns.find((t) => t.start_ms > now + 50);
    else { const before = turns.filter((t) => t.start_ms < now - 700); target = before[before.length - 1] || turns[0]; }
    if (target) P.seekMs(target.start_ms);
  };

  document.getElementById("speed").addEventListener("change", (ev) => { audio.playbackRate = Number(ev.target.value); });
  audio.addEventListener("ratechange", () => { document.getElementById("speed").value = String(audio.playbackRate); });
  document.querySelectorAll("#solo input").forEach((r) => r.addEventListener("change", () => P.setSolo(r.value)));
  audio.addEventListener("play", () => { buildGraph(); if (graph && graph.ctx.state === "suspended") graph.ctx.resume(); });

  document.addEventListener("keydown", (ev) => {
    const el = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    // typing, choosing and the audio element's own controls keep their keys
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON|AUDIO|A)$/.test(el.tagName))) return;
    const key = ev.key;
    if (key === " " || key === "Spacebar") { P.toggle(); ev.preventDefault(); }
    else if (key === "ArrowRight") { P.stepTurn(1); ev.preventDefault(); }
    else if (key === "ArrowLeft") { P.stepTurn(-1); ev.preventDefault(); }
    else if (key === "j" || key === "J") P.seekMs(audio.currentTime * 1000 - 5000);
    else if (key === "k" || key === "K") P.seekMs(audio.currentTime * 1000 + 5000);
  });

  // keep the turn being played in view, below the sticky player
  const player = document.getElementById("player");
  const fit = () => document.documentElement.style.setProperty("--player-h", (player.offsetHeight + 12) + "px");
  window.addEventListener("resize", fit); setTimeout(fit, 0);
  P.keepInView = (li) => {
    fit();
    const top = li.getBoundingClientRect().top, bottom = li.getBoundingClientRect().bottom;
    if (top < player.getBoundingClientRect().bottom || bottom > window.innerHeight) li.scrollIntoView({ block: "nearest" });
  };
})();
