// spectragram-bench report: sortable tables and the per-utterance browser.
// Every text from the data goes through textContent, never innerHTML.
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // -- sortable tables: click a header; numbers sort by data-sort, text by content ---------------
  function sortTable(table, col, type, dir) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col], y = b.cells[col];
      if (type === "n") {
        var xv = x.hasAttribute("data-sort") ? parseFloat(x.getAttribute("data-sort")) : NaN;
        var yv = y.hasAttribute("data-sort") ? parseFloat(y.getAttribute("data-sort")) : NaN;
        if (isNaN(xv) && isNaN(yv)) return 0;
        if (isNaN(xv)) return 1;  // missing values last in both directions
        if (isNaN(yv)) return -1;
        return dir * (xv - yv);
      }
      return dir * x.textContent.localeCompare(y.textContent);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      function activate() {
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        sortTable(table, col, th.getAttribute("data-type"), dir);
      }
      th.addEventListener("click", activate);
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); activate(); } });
    });
  });

  // -- breakdown charts: one metric at a time, picked per breakdown key -------------------------
  Array.prototype.forEach.call(document.querySelectorAll("div.bd-charts"), function (box) {
    var pick = box.querySelector("select.bd-metric");
    if (!pick) return;
    function show() {
      Array.prototype.forEach.call(box.querySelectorAll("figure.bd-chart"), function (fig) {
        fig.hidden = fig.getAttribute("data-metric") !== pick.value;
      });
    }
    pick.addEventListener("change", show);
    show();
  });

  // -- the utterance browser ---------------------------------------------------------------------
  // The data is gzip + base64 (reporting/browser_data.py): an index of every utterance, read at
  // once, and pages of details, each decompressed the first time one of its utterances is shown.
  var dataNode = document.getElementById("utt-data");
  var indexNode = document.getElementById("utt-index");
  var root = document.getElementById("browser");
  var controls = document.getElementById("browser-controls");
  if (!dataNode || !indexNode || !root || !controls) return;

  function unpack(text) {
    var bin = atob(text.trim());
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }

  var data = JSON.parse(dataNode.textContent);
  var pageNodes = document.querySelectorAll("script.utt-page");
  var details = [];  // promises of decompressed detail pages, by page number
  function detailPage(k) {
    if (!details[k]) details[k] = unpack(pageNodes[k].textContent);
    return details[k];
  }
  root.setAttribute("data-state", "loading");
  unpack(indexNode.textContent).then(function (utts) {
    utts.forEach(function (u, i) { u.pos = i; });
    data.utts = utts;
    start();
  }).catch(function (err) {
    root.setAttribute("data-state", "failed");
    root.appendChild(el("p", "warn", "The utterance browser could not read its data: " + err));
  });

  function start() {
    var PAGE = 25;
    var DEFAULTS = { sys: "all", ds: "all", status: "all", sort: "errors-desc", q: "", page: 0 };
    var state = {};
    Object.keys(DEFAULTS).forEach(function (k) { state[k] = DEFAULTS[k]; });

    function readHash() {
      var m = /^#utt\?(.*)$/.exec(location.hash);
      if (!m) return false;
      Object.keys(DEFAULTS).forEach(function (k) { state[k] = DEFAULTS[k]; });
      m[1].split("&").forEach(function (pair) {
        var kv = pair.split("=");
        var key = decodeURIComponent(kv[0]), value = decodeURIComponent(kv.slice(1).join("=") || "");
        if (Object.prototype.hasOwnProperty.call(state, key)) state[key] = key === "page" ? (parseInt(value, 10) || 0) : value;
      });
      return true;
    }

    function writeHash() {
      var parts = [];
      Object.keys(state).forEach(function (k) { parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(state[k])); });
      if (history.replaceState) history.replaceState(null, "", "#utt?" + parts.join("&"));
    }

    function visibleSystems() {
      return state.sys === "all" ? data.systems : data.systems.filter(function (s) { return s.id === state.sys; });
    }

    function tally(u, systems) {  // errors and reference words over the visible systems' scored hypotheses
      var e = 0, n = 0, failed = 0, scored = 0;
      systems.forEach(function (s) {
        var h = u.h[s.id];
        if (!h) return;
        if (h.ok) { e += h.e; n += h.n; scored += 1; } else { failed += 1; }
      });
      return { e: e, n: n, failed: failed, scored: scored, rate: n ? e / n : (e ? Infinity : 0) };
    }

    function matches(u) {
      if (state.ds !== "all" && String(u.g) !== state.ds) return false;
      var t = u._t;
      if (!(t.scored + t.failed)) return false;  // no visible system has this utterance
      if (state.status === "errors" && !(t.e > 0)) return false;
      if (state.status === "failed" && !(t.failed > 0)) return false;
      if (state.status === "perfect" && !(t.e === 0 && t.failed === 0)) return false;
      if (state.q) {
        var q = state.q.toLowerCase();
        if (u.id.toLowerCase().indexOf(q) < 0 && u.ref.toLowerCase().indexOf(q) < 0) return false;
      }
      return true;
    }

    var sorters = {
      "errors-desc": function (a, b) { return b._t.e - a._t.e || b._t.failed - a._t.failed; },
      "errors-asc": function (a, b) { return a._t.e - b._t.e || a._t.failed - b._t.failed; },
      "wer-desc": function (a, b) { return b._t.rate - a._t.rate || b._t.e - a._t.e; },
      "id": function () { return 0; }
    };

    function option(select, value, text) {
      var o = el("option", null, text);
      o.value = value;
      select.appendChild(o);
    }

    function control(labelText, node) {
      var label = el("label", null, labelText + " ");
      label.appendChild(node);
      controls.appendChild(label);
      return node;
    }

    var sysSel = control("System", el("select"));
    sysSel.id = "f-system";
    option(sysSel, "all", "all systems");
    data.systems.forEach(function (s) { option(sysSel, s.id, s.name); });
    var dsSel = control("Dataset", el("select"));
    dsSel.id = "f-dataset";
    option(dsSel, "all", "all datasets");
    // datasets and variants in natural order: numbers inside a label compare as numbers (0, 5, 10, 20 dB)
    var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
    data.groups.map(function (g, i) { return [g, i]; })
      .sort(function (a, b) { return collator.compare(a[0], b[0]); })
      .forEach(function (p) { option(dsSel, String(p[1]), p[0]); });
    var stSel = control("Show", el("select"));
    stSel.id = "f-status";
    [["all", "all utterances"], ["errors", "with errors"], ["failed", "with failures"], ["perfect", "error-free"]]
      .forEach(function (p) { option(stSel, p[0], p[1]); });
    var sortSel = control("Sort", el("select"));
    sortSel.id = "f-sort";
    [["errors-desc", "most errors first"], ["errors-asc", "fewest errors first"], ["wer-desc", "highest utterance WER"], ["id", "utterance order"]]
      .forEach(function (p) { option(sortSel, p[0], p[1]); });
    var search = control("Find", el("input"));
    search.id = "f-search";
    search.type = "search";
    search.placeholder = "utterance id or reference text";

    var player = null;
    function play(ev) {
      ev.preventDefault();
      var href = ev.currentTarget.getAttribute("href");
      if (player) player.pause();
      player = new Audio(href);
      player.play().catch(function () { window.location.href = href; });
    }

    function columns(cols) {
      var line = el("div", "al");
      cols.forEach(function (c) {
        var op = typeof c === "string" ? "h" : c[0];
        var ref = typeof c === "string" ? c : c[1];
        var hyp = typeof c === "string" ? c : c[2];
        var col = el("span", "c " + op);
        if (op !== "h") col.title = { s: "substitution", d: "deletion", i: "insertion" }[op];
        col.appendChild(el("span", null, ref === null ? "\u2014" : ref));
        col.appendChild(el("span", null, hyp === null ? "\u2014" : hyp));
        line.appendChild(col);
      });
      return line;
    }

    function ms(x) { return x >= 10 ? String(Math.round(x)) : x.toFixed(1); }

    function pct(x) { return isFinite(x) ? (100 * x).toFixed(2) + "%" : "inf"; }

    function card(u, page) {
      var more = page[u.pos % data.chunk];
      var art = el("article", "utt");
      art.setAttribute("data-utt", u.id);
      var head = el("header");
      head.appendChild(el("span", "grp", data.groups[u.g]));
      head.appendChild(el("code", "uid", u.id));
      if (u.dur !== null) head.appendChild(el("span", "dur", u.dur.toFixed(2) + " s"));
      if (u.spk) head.appendChild(el("span", "spk", "speaker " + u.spk));
      if (u.a) {
        var a = el("a", "play", u.src ? "\u25B6 source audio" : "\u25B6 audio");
        a.href = data.dirs[u.a[0]] ? data.dirs[u.a[0]] + "/" + u.a[1] : u.a[1];  // [folder index, file]
        if (u.src) a.title = "the file on disk, before the variant was applied" + (u.va ? "" : " (report --variant-audio writes what the model heard)");
        a.addEventListener("click", play);
        head.appendChild(a);
      }
      if (u.va) {  // report --variant-audio: the degraded clip as the provider received it
        var heard = el("a", "play heard", "\u25B6 what the model heard");
        heard.href = u.va;
        heard.title = "this variant's audio, derived exactly as the run derived it";
        heard.addEventListener("click", play);
        head.appendChild(heard);
      }
      art.appendChild(head);
      var ref = el("div", "ref");
      ref.appendChild(el("span", "k", "REF"));
      ref.appendChild(document.createTextNode(u.ref));
      art.appendChild(ref);
      visibleSystems().forEach(function (s) {
        if (!u.h[s.id]) return;
        var h = Object.assign({}, u.h[s.id], more[s.id]);
        var box = el("div", "hyp");
        box.setAttribute("data-sys", s.id);
        var hh = el("div", "hh");
        var sw = el("span", "sw");
        sw.style.background = s.c;
        hh.appendChild(sw);
        hh.appendChild(document.createTextNode(s.name));
        if (h.ok) {
          box.setAttribute("data-errors", String(h.e));
          var detail = h.e + " error" + (h.e === 1 ? "" : "s") + " (S " + h.s + ", D " + h.d + ", I " + h.i + ")"
            + " \u00b7 WER " + pct(h.n ? h.e / h.n : (h.e ? Infinity : 0))
            + (h.ms !== null ? " \u00b7 " + ms(h.ms) + " ms" : "")
            + (h.t !== null ? " \u00b7 TTFT " + ms(h.t) + " ms" : "")
            + (h.v ? Object.keys(h.v).map(function (k) { return " \u00b7 " + k + " " + h.v[k]; }).join("") : "");
          hh.appendChild(el("span", "cnt", detail));
          box.appendChild(hh);
          box.appendChild(columns(h.cols));
          var raw = el("div", "raw");
          raw.appendChild(el("span", "k", "RAW"));
          raw.appendChild(document.createTextNode(h.raw));
          box.appendChild(raw);
          if (h.st) box.appendChild(timeline(h.st));
        } else {
          box.setAttribute("data-failed", "1");
          hh.appendChild(el("span", "cnt", "failed after " + h.att + " attempt" + (h.att === 1 ? "" : "s") + ", not scored"));
          box.appendChild(hh);
          box.appendChild(el("div", "failed", h.err));
        }
        art.appendChild(box);
      });
      return art;
    }

    // A streamed hypothesis: the speech span (shaded) and each message on the stream clock
    // (thin ticks: partials, tall: finals), with its finalization and first-partial latencies.
    function timeline(st) {
      var NS = "http://www.w3.org/2000/svg", W = 640, H = 34, L = 4;
      var end = 1;
      st.ev.forEach(function (e) { end = Math.max(end, e[0] || 0, e[1] || 0); });
      if (st.sp[1] !== null) end = Math.max(end, st.sp[1]);
      var x = function (t) { return L + (W - 2 * L) * Math.max(0, t) / end; };
      var wrap = el("div", "tl");
      var svg = document.createElementNS(NS, "svg");
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      svg.setAttribute("class", "timeline");
      function add(tag, attrs, tip) {
        var n = document.createElementNS(NS, tag);
        Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
        if (tip) { var t = document.createElementNS(NS, "title"); t.textContent = tip; n.appendChild(t); }
        svg.appendChild(n);
      }
      add("rect", {x: L, y: 14, width: W - 2 * L, height: 6, fill: "#eee"});
      if (st.sp[0] !== null && st.sp[1] !== null) {
        add("rect", {x: x(st.sp[0]), y: 10, width: Math.max(1, x(st.sp[1]) - x(st.sp[0])), height: 14, fill: "#9ecae1"},
            "speech " + ms(st.sp[0]) + "-" + ms(st.sp[1]) + " ms (VAD)");
      }
      st.ev.forEach(function (e) {
        add("rect", {x: x(e[0]) - (e[3] ? 1.5 : 0.5), y: e[3] ? 2 : 8, width: e[3] ? 3 : 1, height: e[3] ? 30 : 18,
                     fill: e[3] ? "#D55E00" : "#555"},
            (e[3] ? "final" : "partial") + " at " + ms(e[0]) + " ms, audio sent " + ms(e[1]) + " ms, " + e[2] + " chars");
      });
      wrap.appendChild(svg);
      var parts = [];
      if (st.fin !== null) parts.push("finalization " + ms(st.fin) + " ms");
      if (st.ttfp !== null) parts.push("first partial " + ms(Math.abs(st.ttfp)) + " ms " + (st.ttfp < 0 ? "before" : "after") + " speech start");
      if (st.conn !== null) parts.push("connect " + ms(st.conn) + " ms");
      parts.push(st.rev + " revision" + (st.rev === 1 ? "" : "s"));
      if (st.early) parts.push(st.early + " early word" + (st.early === 1 ? "" : "s"));
      wrap.appendChild(el("span", "tlk", parts.join(" \u00b7 ")));
      return wrap;
    }

    function pager(total) {
      var bar = el("div", "pager");
      var pages = Math.max(1, Math.ceil(total / PAGE));
      var prev = el("button", null, "\u2190 previous");
      var next = el("button", null, "next \u2192");
      prev.disabled = state.page <= 0;
      next.disabled = state.page >= pages - 1;
      prev.addEventListener("click", function () { state.page -= 1; render(true, true); });
      next.addEventListener("click", function () { state.page += 1; render(true, true); });
      var from = total ? state.page * PAGE + 1 : 0;
      var info = el("span", "count", from + "\u2013" + Math.min(total, (state.page + 1) * PAGE) + " of " + total + " utterances");
      bar.appendChild(prev);
      bar.appendChild(info);
      bar.appendChild(next);
      return bar;
    }

    var tallied = null;  // the system filter the tallies were made for: typing a search does not redo them
    function render(scroll, fromUser) {
      if (tallied !== state.sys) {
        var systems = visibleSystems();
        data.utts.forEach(function (u) { u._t = tally(u, systems); });
        tallied = state.sys;
      }
      var list = data.utts.filter(matches);
      list.sort(sorters[state.sort] || sorters["errors-desc"]);
      var pages = Math.max(1, Math.ceil(list.length / PAGE));
      state.page = Math.min(Math.max(0, state.page), pages - 1);
      var shown = list.slice(state.page * PAGE, (state.page + 1) * PAGE);
      var wanted = {};
      shown.forEach(function (u) { wanted[Math.floor(u.pos / data.chunk)] = true; });
      var ticket = ++renders;
      return Promise.all(Object.keys(wanted).map(function (k) {
        return detailPage(+k).then(function (page) { return [+k, page]; });
      })).then(function (loaded) {
        if (ticket !== renders) return;  // a newer render started meanwhile
        var pages = {};
        loaded.forEach(function (kp) { pages[kp[0]] = kp[1]; });
        while (root.firstChild) root.removeChild(root.firstChild);
        root.appendChild(pager(list.length));
        shown.forEach(function (u) { root.appendChild(card(u, pages[Math.floor(u.pos / data.chunk)])); });
        if (list.length > PAGE) root.appendChild(pager(list.length));
        root.setAttribute("data-shown", String(shown.length));
        root.setAttribute("data-matching", String(list.length));
        root.setAttribute("data-state", "ready");
        if (fromUser) writeHash();
        if (scroll) controls.scrollIntoView();
      });
    }
    var renders = 0;

    function syncControls() {  // the controls show the state; a value the data lacks falls back to its default
      [[sysSel, "sys"], [dsSel, "ds"], [stSel, "status"], [sortSel, "sort"]].forEach(function (p) {
        p[0].value = state[p[1]];
        if (p[0].value !== state[p[1]]) state[p[1]] = p[0].value = DEFAULTS[p[1]];
      });
      search.value = state.q;
    }

    // A shared link lands where it points once the page is built: `#utt?status=failed` filters the
    // browser and scrolls to it; `#s-plots` (any element id) scrolls to that section, whose place
    // moved when the browser above it was filled in.
    function goToHash(filter) {
      if (filter && readHash()) { syncControls(); render(false, false).then(function () { goToHash(false); }); return; }
      if (/^#utt\?/.test(location.hash)) { (document.getElementById("s-utterances") || controls).scrollIntoView(); return; }
      var id = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : "";
      var target = id ? document.getElementById(id) : null;
      if (target) target.scrollIntoView();
    }

    readHash();
    syncControls();
    [[sysSel, "sys"], [dsSel, "ds"], [stSel, "status"], [sortSel, "sort"]].forEach(function (p) {
      p[0].addEventListener("change", function () { state[p[1]] = p[0].value; state.page = 0; render(false, true); });
    });
    search.addEventListener("input", function () { state.q = search.value; state.page = 0; render(false, true); });
    render(false, false).then(function () { goToHash(false); });
    window.addEventListener("hashchange", function () { goToHash(true); });
  }
})();
