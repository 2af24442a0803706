/* pet2rep case viewer: the study list of index.html, drawn from data/index.js (window.PET2REP_INDEX).
   Every text goes in through textContent: nothing from a run is parsed as HTML. */
(function () {
  "use strict";
  var D = window.PET2REP_INDEX;
  var body = document.querySelector("#study-list tbody");
  var count = document.getElementById("count");
  if (!D || !body) { return; }
  var fModel = document.getElementById("f-model");
  var fMode = document.getElementById("f-mode");
  var fOrgan = document.getElementById("f-organ");
  var fBeats = document.getElementById("f-beats");
  var T = D.template;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function bits(mask, names) {
    var out = [];
    for (var i = 0; i < names.length; i++) { if (mask > 0 && (mask & (1 << i))) { out.push(names[i]); } }
    return out;
  }
  function models(sel) {
    if (sel === "") {
      var all = [];
      for (var i = 0; i < D.models.length; i++) { all.push(i); }
      return all;
    }
    return [Number(sel)];
  }
  function beats(st, m) {
    if (T === null || m === T) { return false; }
    var t = st[3][T], s = st[3][m];
    return t !== null && s !== null && t > s;
  }
  function keep(st, ms, mode, organ, wantBeats) {
    var hit = false;
    for (var k = 0; k < ms.length; k++) {
      var m = ms[k];
      if (st[1][m] < 0) { continue; }  /* this run has no output for the study */
      if (mode !== "" && !(st[1][m] & (1 << Number(mode)))) { continue; }
      if (organ !== "" && !(st[2][m] & (1 << Number(organ)))) { continue; }
      if (wantBeats && !beats(st, m)) { continue; }
      hit = true;
      break;
    }
    return hit;
  }
  function render() {
    var sel = fModel.value, mode = fMode.value, organ = fOrgan.value, wantBeats = fBeats && fBeats.checked;
    var ms = models(sel);
    var frag = document.createDocumentFragment();
    var n = 0;
    for (var i = 0; i < D.studies.length; i++) {
      var st = D.studies[i];
      if (!keep(st, ms, mode, organ, wantBeats)) { continue; }
      n++;
      var tr = el("tr");
      tr.setAttribute("data-study", st[0]);
      var a = el("a", st[0]);
      a.href = "studies/" + encodeURIComponent(st[0]) + ".html";
      var td = el("td"); td.appendChild(a); tr.appendChild(td);
      var fails = el("td", null, "chips"), wrong = el("td", null, "chips");
      if (sel === "") {
        var nf = 0, nw = 0;
        for (var k = 0; k < ms.length; k++) { if (st[1][ms[k]] > 0) { nf++; } if (st[2][ms[k]] > 0) { nw++; } }
        fails.appendChild(el("span", nf + " of " + ms.length + " models", nf ? "f" : ""));
        wrong.appendChild(el("span", nw + " of " + ms.length + " models"));
      } else {
        var m = ms[0];
        bits(st[1][m], D.modes).forEach(function (x) { fails.appendChild(el("span", x.replace(/_/g, " "), "f")); });
        var w = bits(st[2][m], D.organs);
        wrong.appendChild(el("span", w.length ? w.join(", ").replace(/_/g, " ") : "none"));
      }
      tr.appendChild(fails); tr.appendChild(wrong);
      var score = "";
      if (sel !== "") { score = st[3][Number(sel)] === null ? "–" : st[3][Number(sel)].toFixed(1); }
      else {
        var best = null;
        for (var j = 0; j < ms.length; j++) { var v = st[3][ms[j]]; if (v !== null && (best === null || v > best)) { best = v; } }
        score = best === null ? "–" : "best " + best.toFixed(1);
      }
      tr.appendChild(el("td", score));
      tr.appendChild(el("td", T === null || st[3][T] === null ? "–" : st[3][T].toFixed(1)));
      frag.appendChild(tr);
    }
    body.textContent = "";
    body.appendChild(frag);
    count.textContent = n + " of " + D.studies.length + " studies listed";
  }
  [fModel, fMode, fOrgan, fBeats].forEach(function (e) { if (e) { e.addEventListener("change", render); } });
  render();
})();
