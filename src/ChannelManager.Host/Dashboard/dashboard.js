// ChannelManager live dashboard (issue 8 item 6). Plain JS, no build step: it renders the /api/snapshot
// document, pushed by server-sent events on /api/stream, and falls back to polling when the stream fails.
"use strict";

(function () {
  const POLL_MS = 2000;
  let pollTimer = null;
  let source = null;

  const text = (v) => (v === null || v === undefined || v === "" ? "—" : String(v));
  const time = (v) => (v ? new Date(v).toLocaleTimeString([], { hour12: false }) : "—");
  const secs = (v) => (v === null || v === undefined ? "—" : v.toFixed(1) + " s");

  // Builds a row from plain values; textContent only, so nothing from the server is parsed as HTML.
  function row(cells, attrs) {
    const tr = document.createElement("tr");
    for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
    for (const c of cells) {
      const td = document.createElement("td");
      const cell = typeof c === "object" && c !== null ? c : { text: c };
      td.textContent = text(cell.text);
      if (cell.cls) td.className = cell.cls;
      tr.appendChild(td);
    }
    return tr;
  }

  function fill(tableId, rows) {
    const body = document.querySelector("#" + tableId + " tbody");
    body.replaceChildren(...rows);
  }

  function render(s) {
    fill("modems", s.modems.map((m) => {
      const call = m.currentCall ? m.currentCall.outstation + " (" + m.currentCall.number + ") since " + time(m.currentCall.startedAt) : "";
      const cls = m.faulted ? "faulted" : m.state === "InCall" ? "incall" : "";
      return row([
        m.name,
        { text: m.state, cls: "state state-" + m.state },
        m.faulted ? (m.lastFault || "faulted") + (m.lastFaultReply ? ": " + m.lastFaultReply : "") : "",
        m.calls, m.connects, m.errors, secs(m.meanConnectSeconds), call,
      ], { "data-modem": m.name, "data-state": m.state, "data-calls": String(m.calls), class: cls });
    }));

    document.getElementById("queue-depth").textContent = s.queue.depth;
    document.getElementById("queue-running").textContent = s.queue.running;
    fill("queue", s.queue.entries.filter((e) => e.running || e.due || e.onDemand > 0).concat(
      s.queue.entries.filter((e) => !(e.running || e.due || e.onDemand > 0)).slice(0, 5)).map((e) =>
      row([e.outstation, e.running ? "running" : e.due ? "waiting" : "scheduled", e.onDemand || "", time(e.dueAt)],
        { "data-outstation": e.outstation })));

    fill("outstations", s.outstations.map((o) => row([
      o.name, o.number,
      { text: o.lastOutcome, cls: "outcome-" + o.lastOutcome + " category-" + o.lastOutcomeCategory },
      time(o.lastSuccess), time(o.lastFailure), o.failedAttempts + (o.exhausted ? " (exhausted)" : ""),
      o.running ? "running" : time(o.pendingRetry || o.nextAttempt), o.numberState,
    ], { "data-outstation": o.name })));

    // Issue 7: always-connected IP outstations; the heartbeat shows the learned interval and the remembered failure.
    const ip = s.ipOutstations || [];
    document.getElementById("ip-count").textContent = ip.length;
    document.getElementById("ip-connected").textContent = ip.filter((o) => o.connected).length;
    fill("ip-outstations", ip.length === 0
      ? [row([{ text: "No IP outstations configured.", cls: "muted" }])]
      : ip.map((o) => row([
        o.name, o.endpoint, o.protocol,
        { text: o.state, cls: "state link-" + o.state },
        secs(o.heartbeatIntervalSeconds) + (o.heartbeatLastFailedSeconds != null ? " (failed at " + secs(o.heartbeatLastFailedSeconds) + ")" : "") + (o.heartbeatSettled ? " settled" : ""),
        o.reconnects, o.polls + (o.failedPolls ? " (" + o.failedPolls + ")" : ""),
        { text: o.lastOutcome, cls: "outcome-" + o.lastOutcome + " category-" + o.lastOutcomeCategory },
        time(o.lastPollAt), time(o.nextPollAt),
        o.lastLinkEvent ? time(o.lastLinkEvent.at) + " " + o.lastLinkEvent.kind + ": " + o.lastLinkEvent.detail : "",
      ], { "data-ip-outstation": o.name, "data-state": o.state, "data-polls": String(o.polls), class: o.connected ? "" : "faulted" })));

    fill("events", s.events.map((e) => row([
      time(e.endedAt), e.outstation,
      { text: e.outcome, cls: "outcome-" + e.outcome + " category-" + e.category },
      e.category, e.countedAgainst, e.modem, (e.modemsTried || []).join(", "), { text: e.reply, cls: "reply" },
    ])));

    document.getElementById("alarm-count").textContent = s.alarms.length;
    const alarms = document.getElementById("alarms");
    alarms.replaceChildren(...(s.alarms.length === 0
      ? [Object.assign(document.createElement("li"), { className: "muted", textContent: "No alarms." })]
      : s.alarms.map((a) => Object.assign(document.createElement("li"), {
          textContent: time(a.at) + " " + a.kind + " — " + a.outstation + " (" + a.number + "): " + a.cause,
        }))));

    // Issue 11 item 4: this host's role and the peers in the shared lease table (a SQLite host has none).
    const c = s.cluster;
    if (c) {
      const role = document.getElementById("role");
      role.dataset.role = c.role;
      role.textContent = c.role.toUpperCase() + " host " + c.hostId + (c.leaseEpoch ? " (epoch " + c.leaseEpoch + ")" : "");
      role.title = "storage " + c.storage + (c.error ? "; lease table unreadable: " + c.error : "");
      const peers = (c.peers || []).map((p) => p.hostId + (p.active ? " ACTIVE" : p.live ? " standby" : " down"));
      document.getElementById("peers").textContent = peers.length === 0
        ? (c.role === "Single" ? "" : "no peers")
        : "peers: " + peers.join(", ");
    }

    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString([], { hour12: false });
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  function mode(m) {
    const badge = document.getElementById("connection");
    badge.dataset.mode = m;
    badge.textContent = m;
  }

  async function pollOnce() {
    try {
      const r = await fetch("/api/snapshot", { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      render(await r.json());
      if (!source || source.readyState !== 1) mode("polling");
    } catch (e) {
      mode("offline");
    }
  }

  function startPolling() {
    if (pollTimer === null) {
      pollOnce();
      pollTimer = setInterval(pollOnce, POLL_MS);
    }
  }

  function stopPolling() {
    if (pollTimer !== null) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  function startStream() {
    if (!("EventSource" in window)) {
      startPolling();
      return;
    }
    source = new EventSource("/api/stream");
    source.addEventListener("snapshot", (ev) => {
      stopPolling();
      mode("live");
      render(JSON.parse(ev.data));
    });
    source.addEventListener("heartbeat", () => mode("live"));
    // EventSource reconnects by itself; poll meanwhile so the page never goes stale.
    source.onerror = () => startPolling();
  }

  // Show data at once, then switch to the stream.
  pollOnce();
  startStream();
})();
