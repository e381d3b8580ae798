// The example page's own steps: consent, reference photo, Start. The capture itself is
// django-liveness's widget (django_liveness/static/django_liveness/capture.js): the page creates the
// session through the REST API and hands it to the widget, which sends the picture to the Face
// service and asks the app for the result.
"use strict";

const $ = (id) => document.getElementById(id);
const page = LivenessCapture.readConfig("demo-config");
const captureConfig = LivenessCapture.readConfig("liveness-capture-config");
const words = page.messages;
const widget = LivenessCapture.mount($("capture"), captureConfig, { onRestart: startSession, onFinal: refreshBanner });
let subjectId = null;

async function api(method, path, body) {
  const headers = { ...captureConfig.headers };
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(page.api + path, { method, headers, body: payload, credentials: "same-origin" });
  } catch (error) {
    throw new Error(words.network_error);
  }
  const data = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
  if (response.status >= 500 || data === null) throw new Error(words.server_error);
  if (!response.ok) {
    // The API's own words: why the step was refused (no consent yet, no reference photo ...).
    const fields = data.fields ? " " + Object.values(data.fields).flat().join(" ") : "";
    throw new Error(`${data.detail}${fields}`);
  }
  return data;
}

function show(id, text, tone = "") {
  $(id).textContent = text;
  $(id).className = `status ${tone}`;
}

// Runs `step` with `button` disabled, so that a double click sends one request.
async function once(button, statusId, busyText, step) {
  if (button.disabled) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  show(statusId, busyText, "busy");
  try {
    show(statusId, await step(), "ok");
  } catch (error) {
    show(statusId, error.message, "error");
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

async function ensureSubject() {
  // 201 the first time, 200 with the same subject afterwards: one subject per account.
  if (!subjectId) subjectId = (await api("POST", "subjects/", { user: page.user_id, display_name: page.display_name })).id;
  return subjectId;
}

$("consent-button").addEventListener("click", () => {
  if (!$("consent-box").checked) return show("consent-status", words.tick_first, "error");
  return once($("consent-button"), "consent-status", words.saving, async () => {
    await api("POST", `subjects/${await ensureSubject()}/consent/`, {
      policy_version: "demo-2026-01",
      text: $("consent-text").textContent.trim(),
      purpose: "identity verification (demo)",
    });
    return words.consent_recorded;
  });
});

$("upload-button").addEventListener("click", () => {
  const file = $("reference-file").files[0];
  if (!file) return show("reference-status", words.choose_photo, "error");
  return once($("upload-button"), "reference-status", words.uploading, async () => {
    const form = new FormData();
    form.append("image", file);
    const image = await api("POST", `subjects/${await ensureSubject()}/reference-images/`, form);
    return words.uploaded.replace("%(width)s", image.width).replace("%(height)s", image.height);
  });
});

$("start-button").addEventListener("click", startSession);

// Also the widget's "Start again": a new session, handed to the widget.
async function startSession() {
  const button = $("start-button");
  if (button.disabled) return;
  button.disabled = true;
  show("session-status", words.starting, "busy");
  try {
    const session = await api("POST", "sessions/", { subject: await ensureSubject(), verify: true });
    show("session-status", "");
    button.hidden = true; // from here on, the widget offers "Start again"
    widget.start(session);
  } catch (error) {
    show("session-status", error.message, "error");
  } finally {
    button.disabled = false;
  }
}

// The banner says what the server says now: a later spoof or a reviewer's rejection takes "verified" back.
async function refreshBanner() {
  try {
    const response = await fetch(location.pathname, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const state = await response.json();
    $("verified-status").textContent = state.text;
    $("verified-status").className = state.verified ? "ok" : "";
  } catch (error) {
    // The banner keeps its last known state; the widget already shows this session's result.
  }
}
