// Shared console code: language, API calls with the session cookie, login, navigation.
(function () {
  const stored = localStorage.getItem("dw_lang");
  const lang = stored || ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");
  const DW = (window.DW = { lang });

  DW.t = (key) => (window.DW_TEXT[DW.lang] || {})[key] || window.DW_TEXT.en[key] || key;

  DW.applyText = (root) => {
    (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = DW.t(el.dataset.i18n); });
    (root || document).querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = DW.t(el.dataset.i18nPh); });
    document.documentElement.lang = DW.lang === "zh" ? "zh-CN" : "en";
  };

  DW.setLang = (l) => { localStorage.setItem("dw_lang", l); location.reload(); };

  DW.esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  DW.fmtTime = (iso) => {
    if (!iso) return "";
    const d = new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
    return d.toLocaleString(DW.lang === "zh" ? "zh-CN" : "en-US", { hour12: false });
  };
  DW.locale = () => (DW.lang === "zh" ? "zh-CN" : "en-US");
  // an amount in its currency, with the locale's thousands separators (¥8,800.00, $1,200.00)
  DW.fmtMoney = (amount, currency) => {
    if (amount == null) return "";
    try { return new Intl.NumberFormat(DW.locale(), { style: "currency", currency: currency || "CNY" }).format(amount); }
    catch (e) { return Number(amount).toLocaleString(DW.locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " " + (currency || ""); }
  };
  DW.fmtDate = (iso) => { // a calendar day (YYYY-MM-DD), shown without any time-zone shift
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    if (!m) return iso || "";
    return new Date(+m[1], +m[2] - 1, +m[3]).toLocaleDateString(DW.locale(), { year: "numeric", month: "short", day: "numeric" });
  };
  DW.viewerZone = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { return "UTC"; } })();
  // an instant in a given IANA zone, with the zone's short name (2025-03-01 10:00 GMT+8)
  DW.fmtZoned = (iso, zone) => {
    if (!iso) return "";
    const d = new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z");
    const opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "short" };
    try { return d.toLocaleString(DW.locale(), Object.assign({ timeZone: zone || DW.viewerZone }, opts)); }
    catch (e) { return d.toLocaleString(DW.locale(), opts); }
  };
  // both clocks, labelled: the callee's local time and the viewer's
  DW.bothTimes = (iso, zone) => {
    if (!iso) return "";
    const callee = `<span class="tz-callee">${DW.esc(DW.t("tz_callee"))} ${DW.esc(DW.fmtZoned(iso, zone))}</span>`;
    if (!zone || zone === DW.viewerZone) return callee;
    return callee + `<br><span class="tz-viewer muted">${DW.esc(DW.t("tz_viewer"))} ${DW.esc(DW.fmtZoned(iso, DW.viewerZone))}</span>`;
  };
  DW.vocab = null;
  // the code's vocabulary (outcomes, statuses, rules, intents, tags...), labels in zh and en
  DW.ready = fetch("/api/vocab", { credentials: "same-origin" }).then((r) => r.json()).then((v) => { DW.vocab = v; return v; })
    .catch(() => { DW.vocab = {}; return {}; });
  DW.label = (group, code) => {
    if (code == null || code === "") return "—";
    const g = (DW.vocab || {})[group] || {};
    return (g[code] && (g[code][DW.lang] || g[code].en)) || String(code);
  };
  DW.badge = (group, code, id) => `<span ${id ? `id="${id}" ` : ""}class="badge ${DW.esc(code || "")}" data-code="${DW.esc(code || "")}" title="${DW.esc(code || "")}">${DW.esc(DW.label(group, code))}</span>`;
  DW.fmtMs = (ms) => {
    const s = Math.max(0, Math.round(ms / 1000));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  };

  DW.api = async (path, opts) => {
    const o = Object.assign({ credentials: "same-origin", headers: {} }, opts || {});
    if (o.json !== undefined) { o.body = JSON.stringify(o.json); o.headers["Content-Type"] = "application/json"; delete o.json; }
    const r = await fetch(path, o);
    if (r.status === 401) { DW.showLogin(); throw new Error("unauthorized"); }
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(detail);
    }
    return r.status === 204 ? null : r.json();
  };

  DW.showLogin = () => { document.getElementById("login").classList.add("show"); };

  DW.chrome = (active) => {
    const nav = [["index.html", "nav_calls", "calls"], ["review.html", "nav_review", "review"], ["live.html", "nav_live", "live"],
                 ["campaign.html", "nav_campaigns", "campaigns"], ["promises.html", "nav_promises", "promises"],
                 ["webhooks.html", "nav_webhooks", "webhooks"]];
    const header = document.createElement("header");
    header.innerHTML = '<span class="brand" data-i18n="brand"></span>' +
      nav.map(([href, key, id]) => `<a href="${href}" id="nav-${id}" class="${id === active ? "active" : ""}" data-i18n="${key}"></a>`).join("") +
      '<a href="/softphone" id="nav-softphone" data-i18n="nav_softphone"></a>' +
      '<span class="spacer"></span><button id="lang-toggle" data-i18n="lang_toggle"></button>' +
      '<button id="logout" data-i18n="logout"></button>';
    document.body.prepend(header);
    const login = document.createElement("div");
    login.id = "login";
    login.setAttribute("role", "dialog"); login.setAttribute("aria-modal", "true"); login.setAttribute("aria-labelledby", "login-title");
    login.innerHTML = '<form><h2 id="login-title" data-i18n="login_title"></h2><label for="login-key" class="sr-only" data-i18n="login_key"></label><input id="login-key" type="password" autocomplete="off" placeholder="dw_...">' +
      '<small class="muted" data-i18n="login_hint"></small><span id="login-error" class="error"></span>' +
      '<button class="primary" type="submit" data-i18n="login_button"></button></form>';
    document.body.append(login);
    login.querySelector("form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await fetch("/console/session", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ key: document.getElementById("login-key").value }) });
      if (r.ok) location.reload(); else document.getElementById("login-error").textContent = DW.t("login_failed");
    });
    header.querySelector("#lang-toggle").addEventListener("click", () => DW.setLang(DW.lang === "zh" ? "en" : "zh"));
    header.querySelector("#logout").addEventListener("click", async () => {
      await fetch("/console/session", { method: "DELETE" }); location.reload();
    });
    DW.applyText();
  };

  DW.param = (name) => new URLSearchParams(location.search).get(name);
})();
