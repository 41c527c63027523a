// The call page's review: outcome correction, QA scorecard, tags and notes, saved with the review's
// version (a concurrent change is refused, not overwritten); the trail of who changed what and when.
(function () {
  const form = document.getElementById("review-form");
  const status = document.getElementById("review-status");
  let callId = null, version = 0, onOutcome = null, scorecard = null, call = null;

  function itemLabel(i) { return i[DW.lang] || i.en || i.id; }

  function render(data) {
    const r = data.review || { notes: "", tags: [], scores: {}, version: 0 };
    scorecard = data.scorecard;
    version = r.version || 0;
    const outcomes = (DW.vocab.outcomes || []).map((o) =>
      `<option value="${DW.esc(o)}"${o === call.outcome ? " selected" : ""}>${DW.esc(DW.label("outcome", o))}</option>`).join("");
    const items = scorecard.items.map((i) => {
      const cur = r.scores[i.id];
      const opts = [`<option value="">—</option>`];
      if (Number(i.max) === 1) {
        opts.push(`<option value="1"${cur === 1 ? " selected" : ""}>${DW.t("yes")}</option>`, `<option value="0"${cur === 0 ? " selected" : ""}>${DW.t("no")}</option>`);
      } else {
        for (let v = 0; v <= i.max; v++) opts.push(`<option value="${v}"${cur === v ? " selected" : ""}>${v} / ${i.max}</option>`);
      }
      return `<label class="score-item"><span>${DW.esc(itemLabel(i))}</span><select name="score" data-item="${DW.esc(i.id)}">${opts.join("")}</select></label>`;
    }).join("");
    const tags = (DW.vocab.tags || []).map((t) =>
      `<label class="tag"><input type="checkbox" name="tag" value="${DW.esc(t)}"${r.tags.includes(t) ? " checked" : ""}> ${DW.esc(DW.label("tag", t))}</label>`).join("");
    form.innerHTML =
      `<label><span>${DW.t("correct_outcome")}</span><select id="review-outcome" name="outcome">${outcomes}</select></label>` +
      `<fieldset class="scorecard"><legend>${DW.t("scorecard")} <small class="muted" id="review-score">${r.score != null ? DW.t("score") + " " + r.score : ""}</small></legend>${items}</fieldset>` +
      `<fieldset class="tags"><legend>${DW.t("tags")}</legend>${tags}</fieldset>` +
      `<label><span>${DW.t("notes")}</span><textarea id="review-notes" name="notes" rows="3" maxlength="10000"></textarea></label>` +
      `<button class="primary" type="submit" id="review-save">${DW.t("save_review")}</button>`;
    form.querySelector("#review-notes").value = r.notes || "";
    renderHistory(data.history || []);
  }

  function renderHistory(list) {
    const ol = document.getElementById("review-history");
    const show = (field, v) => {
      if (v == null || v === "") return "—";
      if (field === "outcome") return DW.label("outcome", v);
      if (field === "tags") return v.map((t) => DW.label("tag", t)).join(", ") || "—";
      if (field === "scores") return Object.entries(v).map(([k, x]) => `${k} ${x}`).join(", ") || "—";
      return String(v).length > 80 ? String(v).slice(0, 80) + "…" : String(v);
    };
    ol.innerHTML = list.length ? "" : `<li class="muted">${DW.t("review_none")}</li>`;
    list.slice().reverse().forEach((h) => {
      const li = document.createElement("li");
      li.className = "change"; li.dataset.field = h.field;
      li.innerHTML = `<span class="muted">${DW.esc(DW.fmtZoned(h.at, DW.viewerZone))}</span> <b>${DW.esc(h.by)}</b> ` +
        `${DW.esc(DW.t("field_" + h.field))}: <span class="old">${DW.esc(show(h.field, h.old))}</span> → <span class="new">${DW.esc(show(h.field, h.new))}</span>`;
      ol.append(li);
    });
  }

  async function save(ev) {
    ev.preventDefault();
    const scores = {};
    form.querySelectorAll("select[name=score]").forEach((s) => { if (s.value !== "") scores[s.dataset.item] = Number(s.value); });
    const body = {
      version, scores, notes: form.querySelector("#review-notes").value,
      tags: [...form.querySelectorAll("input[name=tag]:checked")].map((c) => c.value),
      outcome: form.querySelector("#review-outcome").value,
    };
    status.className = "muted"; status.textContent = DW.t("saving");
    try {
      const res = await DW.api(`/api/calls/${encodeURIComponent(callId)}/review`, { method: "PUT", json: body });
      version = res.review.version;
      status.textContent = DW.t("review_saved") + (res.review.score != null ? ` · ${DW.t("score")} ${res.review.score}` : "");
      document.getElementById("review-score").textContent = res.review.score != null ? DW.t("score") + " " + res.review.score : "";
      renderHistory(res.history);
      call.outcome = body.outcome;
      if (onOutcome) onOutcome(body.outcome, res.review.outcome_original);
    } catch (e) {
      status.className = "error"; status.textContent = e.message;
    }
  }

  form.addEventListener("submit", save);
  DW.review = {
    load: async (id, theCall, outcomeChanged) => {
      callId = id; call = theCall; onOutcome = outcomeChanged;
      if (call.status !== "ended") { form.hidden = true; status.textContent = DW.t("review_after_end"); return; }
      try { render(await DW.api(`/api/calls/${encodeURIComponent(id)}/review`)); }
      catch (e) { status.className = "error"; status.textContent = e.message; }
    },
  };
})();
