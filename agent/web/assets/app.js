/*
 * dentsync status page. No framework, no CDN: the agent serves this file.
 * Every value from the server is put in the page as text (never as HTML).
 * Views follow the hash: #/ overview, #/jobs, #/job/ID, #/files, #/import,
 * #/map/FILE (the mapping screen of a held file no template reads),
 * #/map/upload/UPLOAD (the same screen for a file dropped on #/import).
 * Views that change on their own are polled: every two seconds while
 * something is on its way, every ten when all is quiet, never while the tab
 * is hidden (each poll reads the queue on the agent's loop).
 */
"use strict";

/* write: the session may change the queue and import (false for a link a
 * member of the dentsync group asked for: the server refuses those with 403). */
var state = { csrf: "", folders: [], maxKb: 0, timer: 0, busy: true, in: false, write: false };

/* h("tag", {attr: v, onclick: f}, child, ...): an element; strings become text. */
function h(tag, attrs) {
  var el = document.createElement(tag);
  var k;
  for (k in attrs || {}) {
    if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] === null || attrs[k] === undefined) {
      continue;
    }
    if (k.slice(0, 2) === "on") {
      el.addEventListener(k.slice(2), attrs[k]);
    } else if (k === "class") {
      el.className = attrs[k];
    } else {
      el.setAttribute(k, attrs[k]);
    }
  }
  for (var i = 2; i < arguments.length; i++) {
    add(el, arguments[i]);
  }
  return el;
}

function add(el, c) {
  if (c === null || c === undefined || c === false) {
    return;
  }
  if (Array.isArray(c)) {
    c.forEach(function (x) { add(el, x); });
  } else if (typeof c === "object") {
    el.appendChild(c);
  } else {
    el.appendChild(document.createTextNode(String(c)));
  }
}

function show(node) {
  var main = document.getElementById("main");
  main.textContent = "";
  add(main, node);
}

function when(iso) {
  if (!iso) {
    return "never";
  }
  var d = new Date(iso);
  return d.toLocaleString();
}

function ago(iso) {
  if (!iso) {
    return "";
  }
  var s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  var future = s < 0;
  s = Math.abs(s);
  var t = s < 90 ? s + "s" : s < 5400 ? Math.round(s / 60) + "m" :
    s < 172800 ? Math.round(s / 3600) + "h" : Math.round(s / 86400) + "d";
  return future ? "in " + t : t + " ago";
}

/* ---- the server ---------------------------------------------------------- */

function LoginNeeded() {}

function api(path, opts) {
  opts = opts || {};
  opts.credentials = "same-origin";
  opts.headers = opts.headers || {};
  if (opts.method === "POST") {
    opts.headers["X-CSRF-Token"] = state.csrf;
  }
  return fetch(path, opts).then(function (r) {
    if (r.status === 401) {
      throw new LoginNeeded();
    }
    return r.json().then(function (j) {
      if (!r.ok) {
        var e = new Error((j.error && j.error.message) || ("HTTP " + r.status));
        e.status = r.status;
        e.body = j;
        throw e;
      }
      return j;
    });
  });
}

function post(path, fields) {
  var body = Object.keys(fields || {}).map(function (k) {
    return encodeURIComponent(k) + "=" + encodeURIComponent(fields[k]);
  }).join("&");
  return api(path, { method: "POST", body: body,
    headers: { "Content-Type": "application/x-www-form-urlencoded" } });
}

function failed(err) {
  if (err instanceof LoginNeeded) {
    login();
    return;
  }
  flash("bad", err.message || String(err));
}

function flash(kind, text) {
  var b = document.getElementById("banner");
  b.className = "banner " + kind;
  b.textContent = text;
  b.hidden = false;
}

/* ---- login ---------------------------------------------------------------- */

function login() {
  state.in = false;
  stopPolling();
  document.getElementById("logout").hidden = true;
  document.getElementById("banner").hidden = true;
  var input = h("input", { type: "password", name: "secret", autocomplete: "current-password",
    placeholder: "login secret", "aria-label": "login secret" });
  var msg = h("p", { class: "error" });
  show(h("div", { class: "card", id: "login" },
    h("h1", null, "Log in"),
    h("p", null, "Open the link that ", h("code", null, "dentsync web-url"),
      " prints on this PC, or enter the login secret of the configuration."),
    h("form", { onsubmit: function (e) {
      e.preventDefault();
      fetch("/login", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "secret=" + encodeURIComponent(input.value) }).then(function (r) {
        if (r.ok) {
          start();
        } else {
          msg.textContent = "Wrong secret.";
        }
      });
    } }, h("div", { class: "actions" }, input, h("button", { class: "primary" }, "Log in"))),
    msg));
}

/* ---- overview ------------------------------------------------------------- */

function banner(o) {
  var waiting = o.queue.pending_rows;
  var paused = o.practices.filter(function (p) { return p.paused; });
  if (o.stale) {
    flash("bad", "Stale: a folder has synced nothing for more than " + o.stale_hours + " hours.");
  } else if (o.agent && o.agent.failing > 0) {
    flash("bad", "The cloud cannot be reached (" + o.agent.last_error + "): " + waiting +
      " row(s) wait here, safe, and go as soon as it answers.");
  } else if (paused.length) {
    flash("bad", "Uploads paused for " + paused.map(function (p) { return p.name; }).join(", ") + ".");
  } else if (o.held.length) {
    flash("warn", o.held.length + " file(s) held: they wait for you (see Files).");
  } else if (waiting > 0) {
    flash("warn", waiting + " row(s) on their way to the cloud.");
  } else {
    flash("ok", "All data is in the cloud.");
  }
}

function folderCard(f) {
  return h("div", { class: "card folder" + (f.stale ? " stale" : ""), "data-folder": f.name },
    h("h3", null, h("span", null, f.name),
      f.stale ? h("span", { class: "tag stale-marker" }, "STALE") :
        f.last_synced_at ? h("span", { class: "tag ok" }, "synced") :
          h("span", { class: "tag" }, "nothing synced yet")),
    h("dl", { class: "kv" },
      h("dt", null, "practice"), h("dd", null, f.practice + " (" + f.import_type + ")"),
      h("dt", null, "last sync"), h("dd", { class: "last-sync" }, when(f.last_synced_at) +
        (f.last_synced_at ? " (" + ago(f.last_synced_at) + ")" : "")),
      h("dt", null, "last file"), h("dd", null, f.last_file || "none yet",
        f.last_seen_at ? " (" + ago(f.last_seen_at) + ")" : ""),
      h("dt", null, "waiting"), h("dd", null, f.files_waiting + " file(s), " + f.rows_pending + " row(s)"),
      h("dt", null, "held"), h("dd", null, f.held ? h("a", { href: "#/files" }, String(f.held)) : "0"),
      h("dt", null, "quarantined"), h("dd", null, f.quarantined ? h("a", { href: "#/files" }, String(f.quarantined)) : "0")));
}

function overview() {
  return api("/api/overview").then(function (o) {
    state.busy = o.queue.pending_rows > 0 || o.queue.jobs_uploading > 0 ||
      o.folders.some(function (f) { return f.files_waiting > 0; });
    banner(o);
    var a = o.agent || {};
    var q = o.queue;
    var why = o.batches.map(function (b) {
      return h("tr", null, h("td", null, h("a", { href: "#/job/" + b.job }, b.job.slice(0, 8))),
        h("td", null, b.seq), h("td", null, b.folder || "-"), h("td", null, b.rows),
        h("td", null, h("span", { class: "tag " + (b.state === "rejected" ? "bad" : b.state === "retry_wait" ? "warn" : "") }, b.state)),
        h("td", null, b.attempts), h("td", null, b.next_attempt_at ? ago(b.next_attempt_at) : "-"),
        h("td", null, b.last_error_code || "-"));
    });
    show([
      h("h1", null, "Overview"),
      h("div", { class: "cards" }, o.folders.map(folderCard)),
      h("h2", null, "Queue"),
      h("div", { class: "cards" },
        h("div", { class: "card", id: "queue" }, h("dl", { class: "kv" },
          h("dt", null, "rows waiting"), h("dd", { id: "queue-depth" }, String(q.pending_rows)),
          h("dt", null, "jobs uploading"), h("dd", null, String(q.jobs_uploading)),
          h("dt", null, "oldest waiting"), h("dd", null, q.oldest_pending_at ? ago(q.oldest_pending_at) : "-"),
          h("dt", null, "in flight"), h("dd", null, String(a.in_flight || 0)),
          h("dt", null, "retries"), h("dd", null, String(a.retries || 0)),
          h("dt", null, "cloud"), h("dd", null, a.failing > 0 ?
            h("span", { class: "error" }, "failing (" + a.last_error + ", " + a.failing + " in a row); retrying by itself") : "ok"),
          h("dt", null, "ingest"), h("dd", null, (a.ingest_busy ? "busy" : "idle") + ", " + (a.ingest_queued || 0) + " file(s) queued"))),
        h("div", { class: "card", id: "practices" }, h("dl", { class: "kv" },
          o.practices.map(function (p) {
            return [h("dt", null, p.name), h("dd", null, p.paused ?
              h("span", { class: "tag bad" }, "PAUSED " + p.code) : h("span", { class: "tag ok" }, "uploading"))];
          })))),
      why.length ? [h("h2", null, "Uploads waiting, and why"),
        h("div", { class: "scroll" }, h("table", null,
          h("tr", null, ["job", "seq", "folder", "rows", "state", "attempts", "next try", "last error"].map(function (t) { return h("th", null, t); })),
          why))] : null
    ]);
  });
}

/* ---- jobs ----------------------------------------------------------------- */

function bar(pct) {
  var fill = h("span");
  fill.style.width = pct + "%"; /* through the CSSOM: the page's CSP forbids style attributes */
  return h("div", { class: "progress" + (pct >= 100 ? " done" : ""), "data-pct": String(pct),
    role: "progressbar", "aria-valuenow": String(pct), "aria-valuemin": "0", "aria-valuemax": "100" },
    fill, h("b", null, pct + "%"));
}

function jobs() {
  return api("/api/jobs").then(function (r) {
    state.busy = r.jobs.some(function (j) { return j.progress < 100; });
    var rows = r.jobs.map(function (j) {
      return h("tr", { class: "clickable job-row", "data-id": j.id, "data-state": j.state,
        onclick: function () { location.hash = "#/job/" + j.id; } },
        h("td", null, h("a", { href: "#/job/" + j.id }, j.filename), h("div", { class: "muted small" }, j.folder || ""),
          j.location ? h("div", { class: "muted small job-location" }, "location: " + j.location) : null),
        h("td", null, bar(j.progress)),
        h("td", null, h("span", { class: "tag " + (j.state === "completed" ? "ok" : j.state === "completed_with_errors" ? "warn" : "") }, j.state)),
        h("td", null, String(j.total_rows)),
        h("td", { class: j.failed ? "error" : "" }, String(j.failed)),
        h("td", { class: "hide-narrow" }, when(j.created_at)));
    });
    show([h("h1", null, "Jobs"), rows.length ?
      h("div", { class: "scroll" }, h("table", { id: "jobs" },
        h("tr", null, ["file", "progress", "state", "rows", "failed"].map(function (t) { return h("th", null, t); }),
          h("th", { class: "hide-narrow" }, "started")), rows)) :
      h("p", { class: "muted" }, "No job yet: a file dropped in a folder, or on the Import page, starts one.")]);
  });
}

function job(id) {
  return api("/api/job?id=" + encodeURIComponent(id)).then(function (j) {
    state.busy = j.progress < 100;
    var r = j.rows;
    var b = j.batches;
    show([
      h("h1", null, j.filename),
      h("div", { class: "card", id: "job" },
        bar(j.progress),
        h("dl", { class: "kv" },
          h("dt", null, "job"), h("dd", null, h("code", null, j.id)),
          h("dt", null, "state"), h("dd", { id: "job-state" }, j.state),
          h("dt", null, "folder"), h("dd", null, (j.folder || "-") + ", practice " + j.practice),
          h("dt", null, "template"), h("dd", null, j.template || "-"),
          h("dt", null, "location"), h("dd", { id: "job-location" }, j.location || "-"),
          h("dt", null, "rows"), h("dd", null, j.total_rows + " in the file: " + r.created + " created, " + r.updated + " updated, " +
            r.unchanged + " unchanged, " + r.duplicate + " duplicate, " + r.invalid + " invalid, " + r.conflict + " conflict, " +
            r.needs_review + " needs review, " + r.rejected + " rejected, " + r.waiting + " waiting"),
          h("dt", null, "batches"), h("dd", null, b.acked + " acked, " + b.pending + " pending, " + b.in_flight + " in flight, " +
            b.retry_wait + " waiting to retry, " + b.rejected + " rejected"),
          h("dt", null, "started"), h("dd", null, when(j.created_at)),
          h("dt", null, "completed"), h("dd", null, when(j.completed_at)))),
      h("div", { class: "actions" },
        j.failed ? h("a", { href: "/api/job/errors.csv?id=" + encodeURIComponent(j.id), download: "errors-" + j.id.slice(0, 8) + ".csv",
          id: "errors-csv" }, "Download the failed rows (CSV)") : null,
        b.rejected && state.write ? h("button", { type: "button", onclick: function (e) {
          e.target.disabled = true;
          post("/api/retry-job", { id: j.id }).then(function (x) {
            flash("ok", x.batches + " rejected batch(es) back in line.");
            refresh();
          }, failed);
        } }, "Retry rejected") : null),
      j.errors.length ? [h("h2", null, "Rows that did not go through"),
        h("div", { class: "scroll" }, h("table", { id: "errors" },
          h("tr", null, ["status", "error", "rows", "first row", "what to do"].map(function (t) { return h("th", null, t); })),
          j.errors.map(function (g) {
            return h("tr", null, h("td", null, g.status), h("td", null, g.code ? h("code", null, g.code) : null, " ", g.message || ""),
              h("td", null, String(g.rows)), h("td", null, String(g.first_row)),
              h("td", { class: "suggestion" }, g.suggestion));
          })))] : h("p", { class: "muted" }, "No row failed."),
      j.failed_rows.length ? [h("h2", null, "Failed rows"),
        h("div", { class: "scroll" }, h("table", { id: "failed-rows" },
          h("tr", null, ["row", "status", "errors (all of the row)", "what to do"].map(function (t) { return h("th", null, t); })),
          j.failed_rows.map(function (x) {
            var errs = x.errors || [];
            return h("tr", null, h("td", null, String(x.row)), h("td", null, x.status),
              h("td", { class: "row-errors" }, h("ul", null, errs.map(function (e) {
                return h("li", null, e.code ? h("code", null, e.code) : null, " ", e.message || "");
              }))),
              h("td", { class: "suggestion" }, h("ul", null, errs.map(function (e) {
                return h("li", null, e.suggestion || "");
              }))));
          })))] : null
    ]);
  });
}

/* ---- files ---------------------------------------------------------------- */

function files() {
  return api("/api/files").then(function (r) {
    function table(list, retry) {
      return h("div", { class: "scroll" }, h("table", null,
        h("tr", null, ["file", "folder", "reason", ""].map(function (t) { return h("th", null, t); })),
        list.map(function (f) {
          return h("tr", { class: "file-row", "data-id": String(f.id) },
            h("td", null, f.name, h("div", { class: "muted small" }, f.path)),
            h("td", null, f.folder),
            h("td", null, f.reason_code ? h("code", null, f.reason_code) : null, " ", f.reason || ""),
            h("td", null, retry && state.write ? h("button", { type: "button", onclick: function (e) {
              e.target.disabled = true;
              post("/api/retry-file", { id: f.id }).then(function () {
                flash("ok", f.name + " is back in line.");
                refresh();
              }, failed);
            } }, "Retry") : null,
            retry && state.write && f.reason_code === "NO_TEMPLATE" ?
              [" ", h("a", { class: "map-file", href: "#/map/" + f.id }, "Map columns")] : null));
        })));
    }
    show([h("h1", null, "Files waiting for you"),
      h("h2", null, "Held"), r.held.length ? table(r.held, true) :
        h("p", { class: "muted" }, "None. A held file waits in its folder for a fix, then Retry."),
      h("h2", null, "Quarantined"), r.quarantined.length ? table(r.quarantined, false) :
        h("p", { class: "muted" }, "None. A quarantined file could not be read; it was moved aside with its reason.")]);
  });
}

/* ---- mapping a file no template reads ------------------------------------- */

/* The select's choices for an import type: its canonical fields, and for
 * appointments the two halves of a start written in two columns. */
function fieldChoices(d, type) {
  var list = ["ignore"].concat(d.fields[type] || []);
  if (type === "appointments") {
    list.splice(list.indexOf("start_at") + 1, 0, "start_at/date", "start_at/time");
  }
  return list;
}

function templateId(s) {
  var id = String(s || "").toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+/, "").slice(0, 64);
  return id || "mapped";
}

/* Whether a folder detects the template of each file (template = auto):
 * only there is a template saved on the mapping screen used. */
function folderDetects(name) {
  return state.folders.some(function (f) { return f.name === name && f.template === "auto"; });
}

/* The mapping screen of a held file (what = "file") or of a file dropped on
 * the Import page (what = "upload"): the same routes, named by either. */
function mappingView(what, fileId) {
  if (!state.write) {
    show(h("p", { id: "read-only" }, "This session may look but not map a file."));
    return Promise.resolve();
  }
  var q = what + "=" + encodeURIComponent(fileId);
  return api("/api/mapping?" + q).then(function (d) {
    var draft = d.draft || {};
    var type = draft.import_type || (d.folder_type !== "auto" ? d.folder_type : "patients");
    var seq = 0;
    var timer = 0;
    var typeSel = h("select", { id: "map-type", "aria-label": "import type" },
      Object.keys(d.fields).map(function (t) { return h("option", { value: t }, t); }));
    var order = h("select", { id: "map-date-order", "aria-label": "date order" },
      ["auto", "MDY", "DMY", "YMD"].map(function (o) { return h("option", { value: o }, o); }));
    var zone = h("input", { id: "map-time-zone", type: "text", "aria-label": "time zone",
      placeholder: d.practice_time_zone ? "the practice's: " + d.practice_time_zone : "the practice's (this PC's)" });
    var idInput = h("input", { id: "map-id", type: "text", "aria-label": "template id",
      value: templateId(draft.id ? draft.id.replace(/^draft-/, "") : d.file.name.replace(/\.[^.]*$/, "")) });
    var overwrite = h("input", { id: "map-overwrite", type: "checkbox" });
    var cols = h("tbody");
    var statusBox = h("div", { id: "map-status" });
    var out = h("div", { id: "map-preview" });
    var result = h("div", { id: "map-save-result" });
    var selects = [];
    var statusSel = {};

    typeSel.value = type;
    order.value = (draft.dialect && draft.dialect.date_order) || "auto";

    function columnsFor(t) {
      cols.textContent = "";
      selects = d.columns.map(function (c, i) {
        var g = c.guesses[t];
        var sel = h("select", { id: "map-col-" + i, class: "map-col", "data-column": c.column, "aria-label": c.column },
          fieldChoices(d, t).map(function (f) { return h("option", { value: f }, f); }));
        sel.value = g ? g.field : "ignore";
        sel.addEventListener("change", changed);
        add(cols, h("tr", null,
          h("td", null, c.column, h("div", { class: "muted small" }, (c.values || []).slice(0, 3).join(" \u00b7 "))),
          h("td", null, sel),
          h("td", { class: "small map-score", id: "map-score-" + i }, g ? g.field + ", score " + g.score : "no guess")));
        return sel;
      });
    }

    /* The status map: each value of the column chosen as status, and the
     * status it stands for (empty: as written, for the normalizer). */
    function statusesFor(t) {
      statusBox.textContent = "";
      statusSel = {};
      var st = d.statuses[t] || [];
      var i = selects.findIndex(function (s) { return s.value === "status"; });
      if (!st.length || i < 0) {
        return;
      }
      add(statusBox, [h("h2", null, "Status codes"), h("p", { class: "muted" },
        "What each value of " + d.columns[i].column + " means (empty: read as written).")]);
      (d.columns[i].values || []).forEach(function (v, k) {
        var sel = h("select", { id: "map-status-" + k, "aria-label": v },
          [""].concat(st).map(function (x) { return h("option", { value: x }, x || "(as written)"); }));
        sel.addEventListener("change", changed);
        statusSel[v] = sel;
        add(statusBox, h("div", { class: "actions" }, h("code", null, v), " \u2192 ", sel));
      });
    }

    function choice() {
      var map = {};
      Object.keys(statusSel).forEach(function (v) {
        if (statusSel[v].value) {
          map[v] = statusSel[v].value;
        }
      });
      return {
        import_type: typeSel.value,
        columns: selects.map(function (s) { return { column: s.getAttribute("data-column"), field: s.value }; }),
        date_order: order.value,
        time_zone: zone.value.trim() || null,
        status_map: map
      };
    }

    function renderRows(p) {
      var s = p.summary;
      out.textContent = "";
      add(out, [
        h("p", { id: "map-preview-summary" }, s.rows + " row(s) previewed: " + s.valid + " valid, " + s.invalid + " invalid, " +
          s.duplicate + " duplicate, " + s.skipped + " skipped"),
        p.errors.length ? h("ul", null, p.errors.map(function (g) {
          return h("li", null, g.rows + " \u00d7 " + g.error, h("div", { class: "suggestion" }, g.suggestion));
        })) : null,
        h("div", { class: "scroll" }, h("table", { id: "map-preview-rows" },
          h("tr", null, ["row", "status", "record or reason"].map(function (t) { return h("th", null, t); })),
          p.rows.slice(0, 20).map(function (r) {
            var rec = r.record ? Object.keys(r.record).map(function (k) { return k + ": " + r.record[k]; }).join(", ") : "";
            return h("tr", { class: "map-preview-row", "data-status": r.status },
              h("td", null, String(r.row)),
              h("td", null, h("span", { class: "tag " + (r.status === "valid" ? "ok" : r.status === "invalid" ? "bad" : "") }, r.status)),
              h("td", { class: "small" }, r.reason ? h("span", { class: "error" }, r.reason) : rec));
          })))]);
    }

    function previewNow() {
      var mine = ++seq;
      out.setAttribute("data-busy", "1");
      api("/api/mapping/preview?" + q, { method: "POST",
        body: JSON.stringify(choice()), headers: { "Content-Type": "application/json" } }).then(function (p) {
        if (mine === seq) {
          renderRows(p);
          out.removeAttribute("data-busy");
        }
      }, function (err) {
        if (err instanceof LoginNeeded) {
          login();
          return;
        }
        if (mine === seq) {
          out.textContent = "";
          add(out, h("p", { class: "error", id: "map-preview-error" }, err.message));
          out.removeAttribute("data-busy");
        }
      });
    }

    function changed(e) {
      if (e && e.target && e.target.classList.contains("map-col")) {
        statusesFor(typeSel.value);
      }
      clearTimeout(timer);
      timer = setTimeout(previewNow, 250);
    }

    typeSel.addEventListener("change", function () {
      columnsFor(typeSel.value);
      statusesFor(typeSel.value);
      changed();
    });
    order.addEventListener("change", changed);
    zone.addEventListener("change", changed);
    columnsFor(type);
    statusesFor(type);

    show([
      h("h1", null, "Map " + d.file.name),
      h("p", { class: "muted" }, d.file.upload ? ["Dropped on the Import page for folder " + d.file.folder + ". "] :
        ["No template reads this file (", h("code", null, d.file.reason_code), "). "], "Choose the field each column holds; " +
        "the preview below follows your choices. Saving writes a template that every file of this shape uses from then on" +
        (d.file.upload ? ", then imports the file into " + d.file.folder + "." : ".")),
      d.draft_error ? h("p", { class: "muted" }, "No column was recognised: " + d.draft_error) : null,
      h("div", { class: "card" }, h("dl", { class: "kv" },
        h("dt", null, "import type"), h("dd", null, typeSel),
        h("dt", null, "date order"), h("dd", null, order),
        h("dt", null, "time zone"), h("dd", null, zone))),
      h("div", { class: "scroll" }, h("table", { id: "map-columns" },
        h("thead", null, h("tr", null, ["column (first values)", "field", "guess"].map(function (t) { return h("th", null, t); }))),
        cols)),
      statusBox,
      h("h2", null, "Preview"),
      out,
      h("h2", null, "Save"),
      d.template_dir ? h("div", { class: "actions" },
        h("label", { for: "map-id" }, "template id"), idInput,
        h("label", null, overwrite, " replace a template of this id"),
        h("button", { type: "button", class: "primary", id: "map-save", onclick: function (e) {
          var c = choice();
          c.id = idInput.value.trim();
          c.overwrite = overwrite.checked;
          e.target.disabled = true;
          result.textContent = "";
          api("/api/mapping/save?" + q, { method: "POST",
            body: JSON.stringify(c), headers: { "Content-Type": "application/json" } }).then(function (r) {
            add(result, h("p", { id: "map-saved" }, "Saved template ", h("code", null, r.id),
              r.cloud_queued ? "; it goes to the cloud for the practice's other PCs" : "; it could not be queued for the cloud (see the log)",
              r.imported ? [". Imported: ", h("code", null, r.name), " is in folder " + r.folder + ". "] :
              r.retried ? ". The file is back in line. " : ". ", h("a", { href: "#/jobs" }, "Watch it in Jobs")));
          }, function (err) {
            e.target.disabled = false;
            if (err instanceof LoginNeeded) {
              login();
              return;
            }
            add(result, h("p", { class: "error", id: "map-save-error" }, err.message));
          });
        } }, "Save and import")) :
        h("p", { class: "error" }, "The configuration has no template_dir: there is nowhere to save a template."),
      result
    ]);
    previewNow();
  });
}

/* ---- import: drop, preview, confirm --------------------------------------- */

function importView() {
  if (!state.write) {
    show([h("h1", null, "Import a file"),
      h("p", { id: "read-only" }, "This session may look but not import: its link was asked for by a user " +
        "who may not import. Run dentsync web-url as root or as the service user for a link that may.")]);
    return Promise.resolve();
  }
  var select = h("select", { id: "folder-select", "aria-label": "folder" },
    state.folders.map(function (f) { return h("option", { value: f.name }, f.name + " (" + f.import_type + ", " + f.practice + ")"); }));
  var input = h("input", { type: "file", id: "file-input", hidden: "hidden" });
  var drop = h("div", { class: "drop", id: "drop" },
    h("p", null, h("b", null, "Drop an export file here")),
    h("p", { class: "muted" }, "or ", h("button", { type: "button", class: "link", onclick: function () { input.click(); } }, "choose one"),
      ". Nothing is imported before you confirm."));
  var out = h("div", { id: "preview" });
  drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) {
      previewFile(e.dataTransfer.files[0], select.value, out);
    }
  });
  input.addEventListener("change", function () {
    if (input.files.length) {
      previewFile(input.files[0], select.value, out);
    }
  });
  show([h("h1", null, "Import a file"),
    h("div", { class: "actions" }, h("label", { for: "folder-select" }, "Into folder"), select),
    drop, input, out]);
  return Promise.resolve();
}

function previewFile(file, folder, out) {
  out.textContent = "";
  if (file.size > state.maxKb * 1024) {
    add(out, h("p", { class: "error" }, "The file is larger than " + state.maxKb + " KiB (max_upload_kb)."));
    return;
  }
  add(out, h("p", { class: "muted" }, "Reading " + file.name + "\u2026"));
  api("/api/preview?folder=" + encodeURIComponent(folder), { method: "POST", body: file,
    headers: { "Content-Type": "application/octet-stream", "X-Filename": encodeURIComponent(file.name) } })
    .then(function (p) { renderPreview(p, out); }, function (err) {
      if (err instanceof LoginNeeded) {
        login();
        return;
      }
      out.textContent = "";
      add(out, h("p", { class: "error", id: "preview-error" }, err.message));
      /* No template read it: the agent kept it for the mapping screen. */
      if (err.body && err.body.upload) {
        add(out, h("div", { class: "actions" }, h("a", { class: "button primary", id: "map-upload",
          href: "#/map/upload/" + err.body.upload }, "Map columns"),
          h("span", { class: "muted" }, " choose the field of each column, save it as a template, and import the file into " +
            err.body.folder + ".")));
      }
    });
}

function renderPreview(p, out) {
  var s = p.summary;
  var head = p.head || {};
  var mapping = head.mapping || {};
  out.textContent = "";
  add(out, [
    h("h2", null, "Preview of " + p.name),
    h("div", { class: "card" }, h("dl", { class: "kv" },
      h("dt", null, "template"), h("dd", { id: "preview-template" }, head.template || "-",
        head.score !== undefined ? " (score " + Math.round(head.score) + ")" : ""),
      h("dt", null, "format"), h("dd", null, (head.format || "") + ", " + (head.encoding || "")),
      h("dt", null, "rows"), h("dd", { id: "preview-summary" }, s.rows + " previewed" + (s.complete ? " (the whole file)" : " (the first " + s.rows + ")") +
        ": " + s.valid + " valid, " + s.invalid + " invalid, " + s.duplicate + " duplicate, " + s.unchanged + " unchanged, " + s.skipped + " skipped"))),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", id: "confirm", onclick: function (e) {
        e.target.disabled = true;
        post("/api/import", { upload: p.upload }).then(function (r) {
          add(out, h("p", { id: "import-result" }, "Imported: ", h("code", null, r.name), " is in folder " + r.folder +
            " and on its way to the cloud. ", h("a", { href: "#/jobs" }, "Watch it in Jobs")));
        }, function (err) {
          e.target.disabled = false;
          failed(err);
        });
      } }, "Import into " + p.folder),
      folderDetects(p.folder) ? h("a", { class: "button", id: "map-upload", href: "#/map/upload/" + p.upload }, "Map columns") : null,
      h("button", { type: "button", onclick: function () { out.textContent = ""; } }, "Cancel")),
    p.errors.length ? [h("h2", null, "Most common errors"), h("ul", null, p.errors.map(function (g) {
      return h("li", null, g.rows + " \u00d7 " + g.error + " (first: row " + g.first_row + ")", h("div", { class: "suggestion" }, g.suggestion));
    }))] : null,
    h("h2", null, "Column \u2192 field"),
    h("div", { class: "scroll" }, h("table", { id: "mapping" },
      h("tr", null, h("th", null, "column in the file"), h("th", null, "field")),
      Object.keys(mapping).map(function (k) {
        return h("tr", null, h("td", { class: mapping[k] ? "" : "muted" }, mapping[k] || "(not in the file)"), h("td", null, k));
      }))),
    h("h2", null, "Rows"),
    h("div", { class: "scroll" }, h("table", { id: "preview-rows" },
      h("tr", null, ["row", "status", "record or reason"].map(function (t) { return h("th", null, t); })),
      p.rows.map(function (r) {
        var rec = r.record ? Object.keys(r.record).map(function (k) { return k + ": " + r.record[k]; }).join(", ") : "";
        return h("tr", { class: "preview-row", "data-status": r.status },
          h("td", null, String(r.row)),
          h("td", null, h("span", { class: "tag " + (r.status === "valid" ? "ok" : r.status === "invalid" ? "bad" : "") }, r.status)),
          h("td", { class: "small" }, r.reason ? h("span", { class: "error" }, r.reason) : rec));
      })))
  ]);
}

/* ---- navigation and polling ----------------------------------------------- */

function stopPolling() {
  if (state.timer) {
    clearTimeout(state.timer);
    state.timer = 0;
  }
}

/* The next poll of the current view, if it is one that changes. */
function schedule() {
  stopPolling();
  if (!state.in || !route().poll) {
    return;
  }
  state.timer = setTimeout(function () {
    state.timer = 0;
    if (document.hidden) {
      schedule();
      return;
    }
    refresh().then(schedule);
  }, state.busy ? 2000 : 10000);
}

function route() {
  var hash = location.hash || "#/";
  var m = hash.match(/^#\/job\/([0-9a-f-]{8,36})$/);
  if (m) {
    return { name: "jobs", run: function () { return job(m[1]); }, poll: true };
  }
  if (hash === "#/jobs") {
    return { name: "jobs", run: jobs, poll: true };
  }
  if (hash === "#/files") {
    return { name: "files", run: files, poll: false };
  }
  m = hash.match(/^#\/map\/([0-9]{1,19})$/);
  if (m) {
    return { name: "files", run: function () { return mappingView("file", m[1]); }, poll: false };
  }
  m = hash.match(/^#\/map\/upload\/([0-9a-f-]{36})$/);
  if (m) {
    return { name: "import", run: function () { return mappingView("upload", m[1]); }, poll: false };
  }
  if (hash === "#/import") {
    return { name: "import", run: importView, poll: false };
  }
  return { name: "overview", run: overview, poll: true };
}

function refresh() {
  var r = route();
  return r.run().then(function () {
    document.getElementById("updated").textContent = "Updated " + new Date().toLocaleTimeString();
  }, failed);
}

function navigate() {
  var r = route();
  stopPolling();
  if (r.name !== "overview") {
    document.getElementById("banner").hidden = true;
  }
  Array.prototype.forEach.call(document.querySelectorAll("#nav a"), function (a) {
    a.classList.toggle("active", a.getAttribute("data-view") === r.name);
  });
  state.busy = true;
  refresh().then(schedule);
}

function start() {
  api("/api/session").then(function (s) {
    state.csrf = s.csrf;
    state.folders = s.folders;
    state.maxKb = s.max_upload_kb;
    state.write = s.write === true;
    document.querySelector('#nav a[data-view="import"]').hidden = !state.write;
    document.getElementById("read-only-note").hidden = state.write;
    state.in = true;
    document.getElementById("logout").hidden = false;
    navigate();
  }, failed);
}

document.getElementById("sync-now").addEventListener("click", function (e) {
  e.target.disabled = true;
  post("/api/sync-now", {}).then(function () {
    flash("ok", "Sync started: folders rescanned, retries and pauses ended.");
    setTimeout(refresh, 800);
  }, failed).then(function () { e.target.disabled = false; });
});
document.getElementById("logout").addEventListener("click", function () {
  post("/logout", {}).then(login, login);
});
window.addEventListener("hashchange", navigate);
document.addEventListener("visibilitychange", function () {
  if (!document.hidden && state.timer) {
    refresh().then(schedule);
  }
});
/* The page may open on a dropped file anywhere: only the drop zone takes it. */
window.addEventListener("dragover", function (e) { e.preventDefault(); });
window.addEventListener("drop", function (e) { e.preventDefault(); });
start();
