// The Phygitals sandbox dashboard. Every value reaches the page through textContent, never
// innerHTML, so ids and names from the API are shown as text and never run.
"use strict";

const REFRESH_MS = 1000;
const LONGEST_WAIT_MS = 30000; // between tries while the sandbox does not answer
let selectedUser = null;
let downSince = null; // when the sandbox stopped answering, while it does not

const $ = (id) => document.getElementById(id);

function when(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "–";
}

// In tables: the date and time without the year, to keep columns narrow.
function short(iso) {
  return iso ? iso.slice(5, 19).replace("T", " ") : "–";
}

function money(amount) {
  return amount === null || amount === undefined ? "–" : "$" + amount;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  td.title = td.textContent; // the whole value, where the column cuts it short
  if (className) td.className = className;
  return td;
}

function fill(tbodyId, rows, columns, emptyText) {
  const body = $(tbodyId);
  // Unchanged rows are left alone: the focus (a user's button) and the reader's place stay.
  const key = JSON.stringify(rows);
  if (body.dataset.shown === key) return;
  body.dataset.shown = key;
  const trs = rows.map((row) => {
    const tr = document.createElement("tr");
    for (const column of columns) tr.append(column(row));
    return tr;
  });
  if (trs.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(emptyText, "empty");
    td.colSpan = columns.length;
    tr.append(td);
    trs.push(tr);
  }
  body.replaceChildren(...trs);
}

function say(text, isError) {
  const message = $("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function control(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function userButton(userId) {
  const td = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  button.textContent = userId;
  button.title = "show this user's items";
  button.addEventListener("click", () => {
    selectedUser = userId;
    refreshUser();
  });
  td.append(button);
  return td;
}

function faultApplies(fault) {
  if (fault.probability !== null) return Math.round(fault.probability * 1000) / 10 + "% of requests";
  if (fault.times !== null) return "next " + fault.times;
  return "every request";
}

function faultName(fault) {
  if (fault.fault === "latency") return "latency " + fault.seconds + " s";
  if (fault.status !== null) return fault.fault + " " + fault.status;
  return fault.fault;
}

function statusCell(status) {
  if (status === null) return cell("dropped", "num status-error");
  return cell(status, "num " + (status < 400 ? "status-ok" : "status-error"));
}

function render(state) {
  $("clock").textContent = when(state.clock);
  $("clock").dateTime = state.clock;
  fill("users", state.users, [
    (u) => userButton(u.user_id),
    (u) => cell(u.items, "num"),
    (u) => cell(money(u.buyback_total), "num"),
    (u) => cell(money(u.paid), "num"),
  ], "no users yet");
  fill("purchases", state.purchases, [
    (p) => cell(p.session_id),
    (p) => cell(p.user_id),
    (p) => cell(p.pack),
    (p) => cell(p.amount, "num"),
    (p) => cell(p.status, "status-" + p.status),
  ], "no purchases yet");
  $("total-paid").textContent = money(state.sellbacks.total_paid);
  fill("sellbacks", state.sellbacks.items, [
    (s) => cell(s.item_id),
    (s) => cell(s.user_id),
    (s) => cell(money(s.amount), "num"),
    (s) => cell(short(s.time)),
  ], "no sellbacks yet");
  fill("shipments", state.shipments, [
    (o) => cell(o.order_id),
    (o) => cell(o.status),
    (o) => cell(o.carrier),
    (o) => cell(o.tracking_number),
  ], "no shipments yet");
  fill("faults", state.faults, [
    (f) => cell(f.route),
    (f) => cell(faultName(f)),
    (f) => cell(faultApplies(f)),
    (f) => cell(f.fired, "num"),
  ], "no active faults");
  fill("requests", state.requests, [
    (r) => cell(short(r.time)),
    (r) => cell(r.method),
    (r) => cell(r.path),
    (r) => statusCell(r.status),
    (r) => cell(r.latency_ms + " ms", "num"),
    (r) => cell(r.request_id),
    (r) => cell(r.key),
  ], "no requests yet");
}

async function refreshUser() {
  const detail = $("user-detail");
  if (selectedUser === null) {
    detail.hidden = true;
    return;
  }
  try {
    const user = await getJSON("api/users/" + encodeURIComponent(selectedUser));
    $("user-detail-heading").textContent =
      "Items of " + user.user_id + " (paid so far: " + money(user.paid) + ")";
    fill("user-items", user.owned, [
      (i) => cell(i.item_id),
      (i) => cell(i.name),
      (i) => cell(money(i.buyback_price), "num"),
      (i) => cell(short(i.buyback_expires_at)),
    ], "no items owned");
    detail.hidden = false;
  } catch (error) {
    selectedUser = null;
    detail.hidden = true;
  }
}

async function refresh() {
  try {
    render(await getJSON("api/state"));
    await refreshUser();
    if (downSince !== null) say("the sandbox answers again", false);
    downSince = null;
    document.body.classList.remove("stale");
    $("live").textContent = "live · updated " + new Date().toLocaleTimeString();
    return true;
  } catch (error) {
    if (downSince === null) {
      downSince = new Date();
      say("the sandbox is not answering (" + error.message + "); the tables show what it last said", true);
    }
    document.body.classList.add("stale");
    $("live").textContent = "not answering since " + downSince.toLocaleTimeString();
    return false;
  }
}

// Every second while the sandbox answers; while it does not, less and less often.
async function poll(wait) {
  const answered = await refresh();
  const next = answered ? REFRESH_MS : Math.min(wait * 2, LONGEST_WAIT_MS);
  setTimeout(() => poll(next), next);
}

function onSubmit(formId, act) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      say(await act(), false);
    } catch (error) {
      say(error.message, true);
    }
    await refresh();
  });
}

function onClick(buttonId, act) {
  $(buttonId).addEventListener("click", async () => {
    try {
      say(await act(), false);
    } catch (error) {
      say(error.message, true);
    }
    await refresh();
  });
}

onSubmit("advance-form", async () => {
  const done = await control("api/advance", { by: $("advance-by").value.trim() });
  return "clock advanced to " + when(done.clock);
});
onSubmit("seed-form", async () => {
  const userId = $("seed-user").value;
  const done = await control("api/seed", { user_id: userId, count: Number($("seed-count").value) });
  selectedUser = userId;
  return "gave " + userId + " " + done.item_ids.length + " new item(s)";
});
onSubmit("fault-form", async () => {
  const fault = await control("api/faults", {
    route: $("fault-route").value,
    fault: $("fault-kind").value,
    times: Number($("fault-times").value),
  });
  return "fault added: " + faultName(fault) + " on " + fault.route;
});
onClick("clear-faults", async () => {
  await control("api/faults/clear", {});
  return "every fault cleared";
});
onClick("reset", async () => {
  await control("api/reset", {});
  selectedUser = null;
  return "sandbox reset: a fresh sandbox with the same seed";
});

poll(REFRESH_MS);
