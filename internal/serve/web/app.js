// The cogenesis web UI: edit the vault, write with a strategy while the
// text streams in coloured by the small model's weight, and read what left
// the device. Plain JavaScript, no build step; everything comes from the
// gateway's API on the same origin.
"use strict";

const $ = (sel) => document.querySelector(sel);
let token = sessionStorage.getItem("cogen-token") || "";
let current = null; // the selected user's id
let lastRequest = "";
let abort = null;
// prefill is the text the UI last put in the task box itself: the selected
// user's first task, or "" for none. While the box holds it (or nothing),
// the box is the UI's and choosing another user replaces it; text the box
// holds that is not the pre-fill was typed or pasted, and the UI never
// touches it.
let prefill = "";

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function status(msg) { $("#status").textContent = msg || ""; }

// api calls the gateway. Every request that changes state is JSON, and
// says so: the gateway refuses other types (a page of another site could
// send those).
async function api(method, path, body) {
  const opts = { method, headers: headers(method !== "GET" ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) opts.body = typeof body === "string" ? body : JSON.stringify(body);
  const r = await fetch(path, opts);
  if (r.status === 401) { $("#token-box").hidden = false; throw new Error("this server needs its bearer token"); }
  if (r.status === 204) return null;
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && data.error && data.error.message) || ("HTTP " + r.status));
  return data;
}

// weightColor is collab's Fig. 6 palette: red for the small model (w=1),
// blue for the cloud (w=0), white for an even mix.
function weightColor(w) {
  w = Math.min(Math.max(w, 0), 1);
  if (w >= 0.5) {
    const a = (w - 0.5) * 2, c = Math.round(255 - a * 175);
    return `rgb(255,${c},${c})`;
  }
  const a = (0.5 - w) * 2;
  return `rgb(${Math.round(255 - a * 175)},${Math.round(255 - a * 135)},255)`;
}

const lists = ["personal_traits", "writing_style", "private_facts", "activity_log", "emails", "phones"];
const scalars = ["id", "name", "age", "occupation", "location"];

function historyRow(h) {
  const div = document.createElement("div");
  div.className = "hist";
  div.innerHTML = '<label>Title <input class="h-title"></label><label>Text <textarea class="h-text" rows="3"></textarea></label><button type="button" class="h-del">Remove</button>';
  div.querySelector(".h-title").value = (h && h.title) || "";
  div.querySelector(".h-text").value = (h && h.text) || "";
  div.dataset.ref = (h && h.ref) || "";
  div.querySelector(".h-del").onclick = () => div.remove();
  $("#history").appendChild(div);
}

function fillForm(u) {
  const f = $("#user-form");
  for (const k of scalars) f.elements[k].value = u[k] || "";
  for (const k of lists) f.elements[k].value = (u[k] || []).join("\n");
  f.elements.id.readOnly = !!u.id;
  $("#form-title").textContent = u.id ? "Edit " + u.id : "New user";
  $("#history").innerHTML = "";
  for (const h of u.history || []) historyRow(h);
  if (!(u.history || []).length) historyRow(null);
  f.dataset.tasks = JSON.stringify({ tasks: u.tasks || [], extra_tasks: u.extra_tasks || [] });
}

function readForm() {
  const f = $("#user-form");
  const u = {};
  for (const k of scalars) u[k] = f.elements[k].value.trim();
  for (const k of lists) u[k] = f.elements[k].value.split("\n").map((s) => s.trim()).filter(Boolean);
  u.history = [...document.querySelectorAll("#history .hist")]
    .map((d) => ({ ref: d.dataset.ref || undefined, title: d.querySelector(".h-title").value.trim(), text: d.querySelector(".h-text").value.trim() }))
    .filter((h) => h.text);
  Object.assign(u, JSON.parse(f.dataset.tasks || "{}"));
  return u;
}

// userToken reports whether the token is a vault user token, which
// reaches only its own user: the UI then hides what only the owner of the
// whole vault may do (the gateway refuses it anyway).
function userToken() { return token.startsWith("cgu_"); }

// loadUsers lists the users the token reaches (with a user token, its
// one user, selected).
async function loadUsers(select) {
  for (const el of document.querySelectorAll(".admin")) el.hidden = userToken();
  const list = await api("GET", "/v1/vault/users");
  const sel = $("#user-select");
  sel.innerHTML = "";
  for (const u of list.data) {
    const o = document.createElement("option");
    o.value = u.id;
    o.textContent = `${u.id} — ${u.name} (${u.private_facts} facts, ${u.history} writings)`;
    sel.appendChild(o);
  }
  if (select) sel.value = select;
  else if (list.data.length === 1) sel.value = list.data[0].id;
  if (sel.value) await selectUser(sel.value);
}

// taskPrefilled reports whether the task box holds the UI's pre-fill,
// untouched by the user.
function taskPrefilled() { const v = $("#task").value; return v !== "" && v === prefill; }

// prefillTask offers a user's first task in the task box (nothing for a
// user without tasks). It replaces only what the UI put there itself:
// an empty box or the previous user's pre-fill, still untouched. Typed
// text stays as it is, and is never merged with a task.
function prefillTask(u) {
  const box = $("#task");
  if (box.value === "" || box.value === prefill) {
    prefill = (u && u.tasks && u.tasks.length) ? u.tasks[0].task : "";
    box.value = prefill;
    if (document.activeElement === box && taskPrefilled()) box.select();
  }
  box.classList.toggle("prefilled", taskPrefilled());
}

async function selectUser(id) {
  current = id;
  const u = await api("GET", "/v1/vault/users/" + encodeURIComponent(id));
  fillForm(u);
  prefillTask(u);
  await loadAudit();
}

async function saveUser(ev) {
  ev.preventDefault();
  const u = readForm();
  try {
    const exists = $("#user-form").elements.id.readOnly;
    const out = exists
      ? await api("PUT", "/v1/vault/users/" + encodeURIComponent(u.id), u)
      : await api("POST", "/v1/vault/users", u);
    status("saved " + out.id);
    await loadUsers(out.id);
  } catch (e) { status(e.message); }
}

async function loadModels() {
  const list = await api("GET", "/v1/models");
  const sel = $("#strategy");
  sel.innerHTML = "";
  for (const m of list.data) {
    const o = document.createElement("option");
    o.value = m.id;
    o.textContent = m.id.replace(/^cogen-/, "");
    sel.appendChild(o);
  }
  if ([...sel.options].some((o) => o.value === "cogen-sketch")) sel.value = "cogen-sketch";
}

// write streams a chat completion and paints each piece by its weight.
async function write() {
  if (!current) { status("select or create a user first"); return; }
  const out = $("#output");
  out.innerHTML = "";
  out.dataset.done = "";
  $("#write-meta").textContent = "";
  $("#write").disabled = true;
  $("#stop").disabled = false;
  abort = new AbortController();
  const body = {
    model: $("#strategy").value, user: current, stream: true,
    max_tokens: parseInt($("#max-tokens").value, 10) || 128,
    temperature: parseFloat($("#temperature").value) || 0,
    messages: [{ role: "user", content: $("#task").value }],
  };
  const started = performance.now();
  // Logit fusion marks the tokens for which the cloud was not consulted.
  const fuses = /-(logits|speculative)$/.test(body.model);
  let pieces = 0;
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body), signal: abort.signal,
    });
    if (!r.ok) {
      const e = await r.json().catch(() => null);
      throw new Error((e && e.error && e.error.message) || ("HTTP " + r.status));
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 2);
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") continue;
        const ev = JSON.parse(data);
        if (ev.error) throw new Error(ev.error.message);
        const ext = ev.cogen || {};
        if (ext.request) lastRequest = ext.request;
        const c = ev.choices && ev.choices[0];
        if (c && c.delta && c.delta.content) {
          const span = document.createElement("span");
          const w = typeof ext.w === "number" ? ext.w : 1;
          span.textContent = c.delta.content;
          span.style.background = weightColor(w);
          span.title = "w=" + w.toFixed(2) + (ext.consulted ? "" : " (cloud not consulted)");
          if (fuses && !ext.consulted) span.className = "nc";
          out.appendChild(span);
          pieces++;
        }
        if (c && c.finish_reason) {
          const secs = ((performance.now() - started) / 1000).toFixed(1);
          $("#write-meta").textContent = `${pieces} pieces · ${ext.cloud_calls ?? 0} cloud calls · ${ext.redactions ?? 0} redactions · ${c.finish_reason} · ${secs}s · request ${lastRequest}`;
        }
      }
    }
    out.dataset.done = "1";
    status("");
  } catch (e) {
    if (e.name !== "AbortError") status(e.message);
  } finally {
    $("#write").disabled = false;
    $("#stop").disabled = true;
    abort = null;
    await loadAudit();
  }
}

async function loadAudit() {
  const q = new URLSearchParams({ limit: "50" });
  if ($("#audit-mine").checked && current) q.set("user", current);
  let page;
  try { page = await api("GET", "/v1/audit?" + q); } catch (e) { status(e.message); return; }
  const chain = $("#audit-chain");
  chain.textContent = page.chain_ok ? `chain verified · ${page.total} record${page.total === 1 ? "" : "s"}` : "chain BROKEN: " + page.error;
  chain.className = page.chain_ok ? "ok" : "bad";
  const tb = $("#audit tbody");
  tb.innerHTML = "";
  for (const rec of page.data.slice().reverse()) {
    const tr = document.createElement("tr");
    tr.dataset.request = rec.request || "";
    tr.dataset.strategy = rec.strategy;
    if (rec.request && rec.request === lastRequest) tr.className = "mine";
    const cells = [rec.seq, new Date(rec.time).toLocaleTimeString([], { hour12: false }), rec.strategy, rec.host + rec.path, rec.verdict + (rec.rules.length ? " " + rec.rules.join(", ") : ""), rec.bytes, (rec.request || "").slice(-8)];
    cells.forEach((v, i) => {
      const td = document.createElement("td");
      td.textContent = v;
      if (i === 4) td.className = "v-" + rec.verdict;
      tr.appendChild(td);
    });
    tr.onclick = () => {
      const pre = $("#audit-body");
      let body = rec.body;
      try { body = JSON.stringify(JSON.parse(rec.body), null, 2); } catch (_) { /* not JSON */ }
      pre.textContent = `#${rec.seq} ${rec.method} ${rec.host}${rec.path} — ${rec.verdict}\nsha256 ${rec.sha256}\n\n${body || "(blocked: nothing was sent)"}`;
      pre.hidden = false;
    };
    tb.appendChild(tr);
  }
}

async function importFile() {
  const f = $("#import-file").files[0];
  if (!f) { status("choose a file"); return; }
  try {
    const res = await api("POST", "/v1/vault/import", await f.text());
    status(`imported ${res.records} records, ${res.users} users`);
    await loadUsers(res.ids[0]);
  } catch (e) { status(e.message); }
}

async function start() {
  $("#user-form").onsubmit = saveUser;
  $("#user-select").onchange = (e) => selectUser(e.target.value).catch((err) => status(err.message));
  $("#user-new").onclick = () => { current = null; $("#user-select").value = ""; fillForm({}); prefillTask(null); };
  $("#user-delete").onclick = async () => {
    if (!current || !confirm("Delete " + current + " and everything stored for them?")) return;
    try { await api("DELETE", "/v1/vault/users/" + encodeURIComponent(current)); current = null; fillForm({}); prefillTask(null); await loadUsers(); } catch (e) { status(e.message); }
  };
  // Focusing an untouched pre-fill selects it, so that typing replaces
  // the user's task instead of running on from its last word. (The
  // mouseup of the click that focused the box would undo the selection.)
  const task = $("#task");
  let keepSelection = false;
  task.addEventListener("focus", () => { if (taskPrefilled()) { task.select(); keepSelection = true; } });
  task.addEventListener("mouseup", (e) => { if (keepSelection) e.preventDefault(); keepSelection = false; });
  task.addEventListener("input", () => task.classList.toggle("prefilled", taskPrefilled()));
  $("#history-add").onclick = () => historyRow(null);
  $("#write").onclick = write;
  $("#stop").onclick = () => abort && abort.abort();
  $("#audit-refresh").onclick = loadAudit;
  $("#audit-mine").onchange = loadAudit;
  $("#import-go").onclick = importFile;
  $("#token").value = token;
  $("#token-save").onclick = () => { token = $("#token").value.trim(); sessionStorage.setItem("cogen-token", token); start2(); };
  fillForm({});
  await start2();
}

async function start2() {
  try {
    await loadModels();
    await loadUsers();
    status("");
  } catch (e) { status(e.message); }
}

start();
