// The clip browser of a talkset report. Reads the embedded JSON with textContent and builds every element
// with createElement/textContent/setAttribute: no string from the data is ever parsed as HTML.
"use strict";
(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("talkset-data").textContent);
  const clips = data.clips;
  const state = { status: "", reason: "", q: "", page: 0, size: 48, overlay: false };
  const kpCache = new Map();
  const kpWaiting = new Map();
  const $ = (id) => document.getElementById(id);

  // kp/{key}.js files call this (a <script> tag works from file://, fetch() does not).
  window.talksetKeypoints = function (key, pts) {
    kpCache.set(key, pts);
    (kpWaiting.get(key) || []).forEach((fn) => fn(pts));
    kpWaiting.delete(key);
  };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function option(value, label) {
    const o = el("option", null, label);
    o.value = value;
    return o;
  }

  function searchText(c) {
    if (c._text === undefined) {
      c._text = [c.id, c.src, c.caption, c.lang, c.speaker, c.shot, c.status].concat(c.reasons)
        .filter((v) => v !== null && v !== undefined).join("\n").toLowerCase();
    }
    return c._text;
  }

  function matches(c) {
    if (state.status && c.status !== state.status) return false;
    if (state.reason && c.keys.indexOf(state.reason) < 0) return false;
    if (state.q && searchText(c).indexOf(state.q) < 0) return false;
    return true;
  }

  function fillFilters() {
    const byStatus = {};
    clips.forEach((c) => { byStatus[c.status] = (byStatus[c.status] || 0) + 1; });
    const status = $("status");
    status.appendChild(option("", "all (" + clips.length + ")"));
    ["kept", "rejected", "failed"].forEach((s) => {
      if (byStatus[s]) status.appendChild(option(s, s + " (" + byStatus[s] + ")"));
    });
    const reason = $("reason");
    reason.appendChild(option("", "any"));
    Object.keys(data.rejections).sort((a, b) => data.rejections[b] - data.rejections[a] || (a < b ? -1 : 1))
      .forEach((k) => reason.appendChild(option(k, k + " (" + data.rejections[k] + ")")));
  }

  function fmt(v) {
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3);
    return v === null || v === undefined ? "–" : String(v);
  }

  function card(c) {
    const div = el("div", "card " + c.status);
    div.setAttribute("data-id", c.id);
    div.setAttribute("data-status", c.status);
    const media = el("div", "media");
    const img = el("img", "thumb");
    img.loading = "lazy";
    img.alt = c.id;
    img.src = c.thumb || "static/placeholder.svg";
    media.appendChild(img);
    if (c.preview) {
      media.addEventListener("mouseenter", () => { img.src = c.preview; });
      media.addEventListener("mouseleave", () => { img.src = c.thumb; });
    }
    div.appendChild(media);
    if (state.overlay && c.kp) showOverlay(media, c);

    const body = el("div", "body-text");
    body.appendChild(el("span", "status " + c.status, c.status));
    body.appendChild(el("span", "cid", c.id));
    const src = el("div", "src");
    const name = c.src ? c.src.split("/").pop() : "";
    src.textContent = name + (c.type === "clip" ? "  " + fmt(c.start) + "–" + fmt(c.end) + " s" : "");
    if (c.src) src.title = c.src;
    body.appendChild(src);
    const facts = [c.dur !== null && c.dur !== undefined ? fmt(c.dur) + " s" : null, c.res,
      c.fps ? fmt(c.fps) + " fps" : null, c.lang, c.shot, c.speaker].filter((v) => v);
    body.appendChild(el("div", "facts", facts.join(" · ")));
    if (c.reasons.length) {
      const ul = el("ul", "reasons");
      c.reasons.forEach((r) => ul.appendChild(el("li", null, r)));
      body.appendChild(ul);
    }
    if (c.caption) body.appendChild(el("p", "caption", c.caption));
    if (c.note) body.appendChild(el("div", "pic-note", "picture: " + c.note));
    const names = Object.keys(c.scores);
    if (names.length) {
      const det = el("details", "scores");
      det.appendChild(el("summary", null, "scores (" + names.length + ")"));
      const table = el("table");
      names.forEach((n) => {
        const tr = el("tr");
        tr.appendChild(el("td", null, n));
        tr.appendChild(el("td", null, fmt(c.scores[n])));
        table.appendChild(tr);
      });
      det.appendChild(table);
      body.appendChild(det);
    }
    if (c.clip) {
      const a = el("a", null, "open clip");
      a.href = c.clip;
      body.appendChild(a);
    }
    div.appendChild(body);
    return div;
  }

  function loadKeypoints(c, then) {
    if (kpCache.has(c.kpKey)) { then(kpCache.get(c.kpKey)); return; }
    const waiting = kpWaiting.get(c.kpKey);
    if (waiting) { waiting.push(then); return; }
    kpWaiting.set(c.kpKey, [then]);
    const s = document.createElement("script");
    s.src = c.kp;
    document.head.appendChild(s);
  }

  function dot(svg, x, y, r, cls) {
    const p = document.createElementNS(SVG_NS, "circle");
    p.setAttribute("cx", x);
    p.setAttribute("cy", y);
    p.setAttribute("r", r);
    p.setAttribute("class", cls);
    svg.appendChild(p);
  }

  function showOverlay(media, c) {
    loadKeypoints(c, (pts) => {
      if (!media.isConnected || !state.overlay || media.querySelector("svg.overlay")) return;
      const w = pts.size[0], h = pts.size[1], r = Math.max(w, h) / 160;
      const svg = document.createElementNS(SVG_NS, "svg");
      svg.setAttribute("class", "overlay");
      svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      svg.setAttribute("preserveAspectRatio", "none");
      (pts.face || []).forEach((p) => { if (p) dot(svg, p[0], p[1], r * 0.5, "face"); });
      (pts.body || []).forEach((p) => {
        if (p) dot(svg, p[0], p[1], r * (p.length > 2 && p[2] < 0.5 ? 0.6 : 1.2), "body");
      });
      (pts.hands || []).forEach((hand) => (hand || []).forEach((p) => { if (p) dot(svg, p[0], p[1], r * 0.7, "hand"); }));
      media.appendChild(svg);
    });
  }

  function render() {
    const shown = clips.filter(matches);
    const pages = Math.max(1, Math.ceil(shown.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const from = state.page * state.size;
    const box = $("clips");
    box.replaceChildren();
    const frag = document.createDocumentFragment();
    shown.slice(from, from + state.size).forEach((c) => frag.appendChild(card(c)));
    box.appendChild(frag);
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("count").textContent = shown.length + " of " + clips.length + " records match";
    $("count").setAttribute("data-matching", String(shown.length));
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
  }

  function setOverlay(on) {
    state.overlay = on;
    document.querySelectorAll("#clips .media svg.overlay").forEach((s) => s.remove());
    if (!on) return;
    const byId = new Map(clips.map((c) => [c.id, c]));
    document.querySelectorAll("#clips .card").forEach((div) => {
      const c = byId.get(div.getAttribute("data-id"));
      if (c && c.kp) showOverlay(div.querySelector(".media"), c);
    });
  }

  fillFilters();
  $("status").addEventListener("change", (e) => { state.status = e.target.value; state.page = 0; render(); });
  $("reason").addEventListener("change", (e) => { state.reason = e.target.value; state.page = 0; render(); });
  $("search").addEventListener("input", (e) => { state.q = e.target.value.trim().toLowerCase(); state.page = 0; render(); });
  $("page-size").addEventListener("change", (e) => { state.size = parseInt(e.target.value, 10); state.page = 0; render(); });
  $("prev").addEventListener("click", () => { state.page -= 1; render(); window.scrollTo(0, $("browser").offsetTop); });
  $("next").addEventListener("click", () => { state.page += 1; render(); window.scrollTo(0, $("browser").offsetTop); });
  $("overlay").addEventListener("change", (e) => setOverlay(e.target.checked));
  render();
})();
