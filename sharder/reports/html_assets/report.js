// sharder's HTML report: draws the timeline from the JSON in #sharder-data (see sharder/reports/html_report.py).
// Every string from a report reaches the page through textContent or dataset, never as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("sharder-data").textContent);
  var TICK = data.tick;
  var ROW = 18;
  var OUTCOMES = data.outcomes;
  var COLOURS = {};
  var style = getComputedStyle(document.documentElement);
  OUTCOMES.forEach(function (name) { COLOURS[name] = style.getPropertyValue("--" + name).trim() || "#888"; });
  var FIXED = style.getPropertyValue("--fixed").trim();
  // Which colour wins when tests too small to see share a block: the one a reader is looking for.
  var RANK = { died: 8, failed: 7, error: 6, flaky: 5, rerun: 4, other: 3, skipped: 2, xfailed: 1, passed: 0 };
  var timeline = document.getElementById("timeline");
  var axis = document.getElementById("axis");
  var tip = document.getElementById("tip");
  var lanes = data.lanes;
  var total = 1;
  lanes.forEach(function (lane) {
    total = Math.max(total, lane.end + (lane.timed && lane.outside ? lane.outside : 0), lane.predicted || 0);
    // each row's bars are contiguous and sorted by start: rowStart[r] .. rowStart[r + 1]
    lane.rowStart = [];
    var row = -1;
    for (var i = 0; i < lane.r.length; i++) {
      while (row < lane.r[i]) { row++; lane.rowStart.push(i); }
    }
    while (lane.rowStart.length <= lane.rows) { lane.rowStart.push(lane.r.length); }
  });
  if (data.lower_bound) { total = Math.max(total, data.lower_bound); }
  var view = { t0: 0, t1: total * 1.02 };

  function nodeId(lane, i) {
    var f = lane.f[i];
    return f >= 0 ? data.files[f] + "::" + lane.n[i] : lane.n[i];
  }
  function secondsText(ticks) {
    var s = ticks * TICK;
    if (s >= 60) { return Math.floor(s / 60) + " min " + (s % 60).toFixed(0) + " s"; }
    return s >= 10 ? s.toFixed(1) + " s" : s.toFixed(s >= 1 ? 2 : 3) + " s";
  }

  var built = [];
  lanes.forEach(function (lane, index) {
    var row = document.createElement("div");
    row.className = "lane";
    row.dataset.lane = lane.label;
    row.dataset.bars = String(lane.n.length);
    var label = document.createElement("div");
    label.className = "lane-label";
    label.textContent = lane.label;
    if (lane.status && lane.status !== "ok") {
      var status = document.createElement("span");
      status.className = "status";
      status.textContent = " (" + lane.status + ")";
      label.appendChild(status);
    }
    label.title = lane.label + (lane.timed ? "" : " (no clock times: placed by order and duration)");
    var track = document.createElement("div");
    track.className = "track";
    track.style.height = lane.rows * ROW + "px";
    track.dataset.index = String(index);
    row.appendChild(label);
    row.appendChild(track);
    timeline.appendChild(row);
    var item = { lane: lane, track: track, bars: null, canvas: null, fixed: [], marker: null };
    if (lane.timed && lane.before) { item.fixed.push(segment(track, 0, lane.before, lane.rows)); }
    if (lane.timed && lane.after) { item.fixed.push(segment(track, lane.end - lane.after, lane.end, lane.rows)); }
    if (lane.timed && lane.outside) {  // off every session's clock: sharder's start, the interpreter's exit
      item.fixed.push(segment(track, lane.end, lane.end + lane.outside, lane.rows, "outside"));
    }
    if (data.dom) {
      item.bars = [];
      for (var i = 0; i < lane.n.length; i++) {
        var bar = document.createElement("div");
        bar.className = "bar o-" + OUTCOMES[lane.o[i]];
        bar.dataset.nodeid = nodeId(lane, i);
        bar.dataset.outcome = OUTCOMES[lane.o[i]];
        bar.dataset.index = String(i);
        bar.style.top = 2 + lane.r[i] * ROW + "px";
        track.appendChild(bar);
        item.bars.push(bar);
      }
    } else {
      item.canvas = document.createElement("canvas");
      track.appendChild(item.canvas);
    }
    if (lane.predicted) {
      item.marker = document.createElement("div");
      item.marker.className = "marker";
      item.marker.title = "predicted " + secondsText(lane.predicted);
      track.appendChild(item.marker);
    }
    built.push(item);
  });
  var bound = null;
  if (data.lower_bound) {
    bound = document.createElement("div");
    bound.id = "bound";
    bound.title = "lower bound " + secondsText(data.lower_bound);
    timeline.appendChild(bound);
  }

  function segment(track, start, end, rows, kind) {  // the whole job waits: every row of its lane
    var seg = document.createElement("div");
    seg.className = "seg " + (kind || "fixed");
    seg.dataset.start = String(start);
    seg.dataset.end = String(end);
    seg.style.top = "2px";
    seg.style.height = rows * ROW - 2 + "px";
    track.appendChild(seg);
    return seg;
  }

  function width() { return built.length ? built[0].track.clientWidth : timeline.clientWidth; }
  function xOf(ticks, w) { return (ticks - view.t0) / (view.t1 - view.t0) * w; }

  function drawAxis(w) {
    axis.textContent = "";
    var span = (view.t1 - view.t0) * TICK;
    var raw = span / 8;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; }).filter(function (s) { return s >= raw; })[0];
    for (var s = Math.ceil(view.t0 * TICK / step) * step; s <= view.t1 * TICK; s += step) {
      var tick = document.createElement("div");
      tick.className = "tick";
      tick.style.left = xOf(s / TICK, w) + "px";
      tick.textContent = tickText(s, step);
      axis.appendChild(tick);
    }
  }

  function tickText(s, step) {
    if (step >= 60 && s >= 60) { return Math.floor(s / 60) + " min" + (s % 60 ? " " + Math.round(s % 60) + " s" : ""); }
    return s.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) + " s";
  }

  function place(el, start, end, w) {
    var x0 = xOf(start, w), x1 = xOf(end, w);
    el.style.left = x0 + "px";
    el.style.width = Math.max(1, x1 - x0) + "px";
  }

  function drawCanvas(item, w) {
    var lane = item.lane, canvas = item.canvas, ratio = window.devicePixelRatio || 1;
    var h = lane.rows * ROW;
    canvas.width = Math.max(1, Math.round(w * ratio));
    canvas.height = Math.round(h * ratio);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var scale = w / (view.t1 - view.t0);
    for (var r = 0; r < lane.rows; r++) {
      var lo = lane.rowStart[r], hi = lane.rowStart[r + 1];
      var first = firstEndingAfter(lane, lo, hi, view.t0);
      var blockStart = -1, blockEnd = -1, blockRank = -1, blockOutcome = "passed";
      var y = r * ROW, barH = ROW - 2;
      for (var i = first; i < hi; i++) {
        var start = lane.s[i];
        if (start > view.t1) { break; }
        var x0 = (start - view.t0) * scale, x1 = (start + lane.d[i] - view.t0) * scale;
        var outcome = OUTCOMES[lane.o[i]];
        if (x1 - x0 >= 2) {
          if (blockStart >= 0) { fill(ctx, blockStart, blockEnd, y, barH, blockOutcome); blockStart = -1; }
          ctx.fillStyle = COLOURS[outcome];
          ctx.fillRect(x0, y, Math.max(1, x1 - x0 - (x1 - x0 > 4 ? 1 : 0)), barH);
          continue;
        }
        // too narrow to see alone: merged with its neighbours into a block until the block is 2 px wide
        if (blockStart >= 0 && x0 - blockEnd > 1) { fill(ctx, blockStart, blockEnd, y, barH, blockOutcome); blockStart = -1; }
        if (blockStart < 0) { blockStart = x0; blockRank = -1; }
        blockEnd = Math.max(blockEnd, x1);
        if (RANK[outcome] > blockRank) { blockRank = RANK[outcome]; blockOutcome = outcome; }
        if (blockEnd - blockStart >= 2) { fill(ctx, blockStart, blockEnd, y, barH, blockOutcome); blockStart = -1; }
      }
      if (blockStart >= 0) { fill(ctx, blockStart, blockEnd, y, barH, blockOutcome); }
    }
  }
  function fill(ctx, x0, x1, y, h, outcome) {
    ctx.fillStyle = COLOURS[outcome];
    ctx.fillRect(x0, y, Math.max(1, x1 - x0), h);
  }
  // The first bar of a row (bars lo..hi, sorted by start, not overlapping) whose end is at or after t.
  function firstEndingAfter(lane, lo, hi, t) {
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (lane.s[mid] + lane.d[mid] < t) { lo = mid + 1; } else { hi = mid; }
    }
    return lo;
  }

  function draw() {
    var w = width();
    drawAxis(w);
    built.forEach(function (item) {
      var lane = item.lane;
      item.fixed.forEach(function (seg) { place(seg, +seg.dataset.start, +seg.dataset.end, w); });
      if (item.marker) { item.marker.style.left = xOf(lane.predicted, w) + "px"; }
      if (item.bars) {
        for (var i = 0; i < item.bars.length; i++) {
          var bar = item.bars[i];
          place(bar, lane.s[i], lane.s[i] + lane.d[i], w);
          // a separator only where a bar is wide enough to keep its colour beside it
          bar.style.borderRightWidth = parseFloat(bar.style.width) > 4 ? "1px" : "0";
        }
      } else {
        drawCanvas(item, w);
      }
    });
    if (bound && built.length) { bound.style.left = built[0].track.offsetLeft + xOf(data.lower_bound, w) + "px"; }
  }

  // The bar under the pointer: the one running at that time in that row, else the nearest within 3 px.
  function hit(event) {
    var track = event.target.closest ? event.target.closest(".track") : null;
    if (!track) { return null; }
    var item = built[+track.dataset.index], lane = item.lane;
    if (event.target.classList.contains("bar")) { return { item: item, index: +event.target.dataset.index }; }
    var rect = track.getBoundingClientRect();
    var w = rect.width, px = event.clientX - rect.left;
    var row = Math.floor((event.clientY - rect.top - 2) / ROW);
    if (row < 0 || row >= lane.rows) { return null; }
    var perPixel = (view.t1 - view.t0) / w, t = view.t0 + px * perPixel, slack = 3 * perPixel;
    var lo = lane.rowStart[row], hi = lane.rowStart[row + 1];
    var i = firstEndingAfter(lane, lo, hi, t - slack);
    var best = -1, distance = Infinity;
    for (; i < hi && lane.s[i] <= t + slack; i++) {
      var d = t < lane.s[i] ? lane.s[i] - t : (t > lane.s[i] + lane.d[i] ? t - lane.s[i] - lane.d[i] : 0);
      if (d < distance) { distance = d; best = i; }
    }
    return best >= 0 ? { item: item, index: best } : null;
  }

  function describe(found) {
    var lane = found.item.lane, i = found.index;
    var outcome = OUTCOMES[lane.o[i]], attempt = OUTCOMES[lane.a[i]];
    var lines = [nodeId(lane, i), (outcome === "died" ? "duration: unknown, its shard died while it ran"
      : "duration: " + secondsText(lane.d[i])) + ", started at " + secondsText(lane.s[i]),
      "outcome: " + outcome + (attempt !== outcome ? " (this attempt: " + attempt + ")" : ""),
      "peak memory: " + (lane.m[i] >= 0 ? lane.m[i].toFixed(1) + " MB" : "not recorded"), lane.label];
    return lines.join("\n");
  }

  var drag = null;
  timeline.addEventListener("mousemove", function (event) {
    if (drag) {
      var w = width(), shift = (event.clientX - drag.x) / w * (drag.t1 - drag.t0);
      view.t0 = drag.t0 - shift;
      view.t1 = drag.t1 - shift;
      drag.moved = drag.moved || Math.abs(event.clientX - drag.x) > 3;
      draw();
      return;
    }
    var found = hit(event);
    if (!found) { tip.hidden = true; return; }
    tip.textContent = describe(found);
    tip.dataset.nodeid = nodeId(found.item.lane, found.index);
    tip.hidden = false;
    tip.style.left = Math.min(event.clientX + 12, window.innerWidth - tip.offsetWidth - 4) + "px";
    tip.style.top = event.clientY + 16 + "px";
  });
  timeline.addEventListener("mouseleave", function () { tip.hidden = true; });
  timeline.addEventListener("mousedown", function (event) {
    drag = { x: event.clientX, t0: view.t0, t1: view.t1, moved: false };
  });
  window.addEventListener("mouseup", function (event) {
    var was = drag;
    drag = null;
    if (was && was.moved) { return; }
    var found = hit(event);
    if (found) { showDetail(found); }
  });
  timeline.addEventListener("wheel", function (event) {
    event.preventDefault();
    var rect = built.length ? built[0].track.getBoundingClientRect() : timeline.getBoundingClientRect();
    var at = view.t0 + (event.clientX - rect.left) / rect.width * (view.t1 - view.t0);
    zoom(event.deltaY < 0 ? 1 / 1.25 : 1.25, at);
  }, { passive: false });

  function zoom(factor, at) {
    var span = Math.max(10, (view.t1 - view.t0) * factor);  // no closer than a millisecond per screen
    var centre = at === undefined ? (view.t0 + view.t1) / 2 : at;
    var left = (centre - view.t0) / (view.t1 - view.t0);
    view.t0 = centre - left * span;
    view.t1 = view.t0 + span;
    draw();
  }
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(1 / 2); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2); });
  document.getElementById("zoom-fit").addEventListener("click", function () {
    view = { t0: 0, t1: total * 1.02 };
    draw();
  });

  var detail = document.getElementById("detail");
  function showDetail(found) {
    var lane = found.item.lane, i = found.index, m = lane.x[i];
    document.getElementById("detail-title").textContent = nodeId(lane, i);
    document.getElementById("detail-facts").textContent = describe(found).split("\n").slice(1).join(", ");
    var message = document.getElementById("detail-message");
    message.textContent = m >= 0 ? data.messages[m][1] : "";
    message.hidden = m < 0;
    detail.dataset.nodeid = nodeId(lane, i);
    detail.hidden = false;
  }
  document.getElementById("detail-close").addEventListener("click", function () { detail.hidden = true; });

  window.addEventListener("resize", draw);
  draw();
  // the benchmark's "first render": the timeline is drawn and the frame that shows it has been painted
  requestAnimationFrame(function () {
    setTimeout(function () { document.body.dataset.rendered = String(performance.now()); }, 0);
  });
})();
