// The end user's page. It follows the seed tutorial's flow exactly:
//   1. ask the app server (django-liveness REST API) for a session -> auth token
//   2. send the capture to the Face service (here: the emulator) with that token
//   3. tell the app server it finished -> the app server fetches the result itself
"use strict";

const config = JSON.parse(document.getElementById("demo-config").textContent);
const API = "/api/liveness";
const OUTCOMES = {
  live: { decision: "realface", same_person: "true" },
  spoof: { decision: "spoofface", same_person: "true" },
  uncertain: { decision: "uncertain", same_person: "true" },
  different: { decision: "realface", same_person: "false" },
};
let subjectId = null;
let session = null;

const $ = (id) => document.getElementById(id);

function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.split("=")[1]) : "";
}

async function api(method, path, body) {
  const headers = { "X-CSRFToken": csrfToken() };
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(API + path, { method, headers, body: payload, credentials: "same-origin" });
  const data = response.status === 204 ? {} : await response.json();
  if (!response.ok) {
    const fields = data.fields ? " " + Object.values(data.fields).flat().join(" ") : "";
    throw new Error(`${data.detail || response.statusText}${fields} (${data.code || response.status})`);
  }
  return data;
}

function show(id, text, failed = false) {
  $(id).textContent = text;
  $(id).style.color = failed ? "#cf222e" : "";
}

async function ensureSubject() {
  // 201 the first time, 200 with the same subject afterwards: one subject per account.
  if (!subjectId) subjectId = (await api("POST", "/subjects/", { user: config.user_id, display_name: config.display_name })).id;
  return subjectId;
}

$("consent-button").addEventListener("click", async () => {
  if (!$("consent-box").checked) return show("consent-status", "Tick the box first.", true);
  try {
    await api("POST", `/subjects/${await ensureSubject()}/consent/`, {
      policy_version: "demo-2026-01",
      text: $("consent-text").textContent.trim(),
      purpose: "identity verification (demo)",
    });
    show("consent-status", "Consent recorded.");
  } catch (error) {
    show("consent-status", error.message, true);
  }
});

$("upload-button").addEventListener("click", async () => {
  const file = $("reference-file").files[0];
  if (!file) return show("reference-status", "Choose a photo first.", true);
  const form = new FormData();
  form.append("image", file);
  try {
    const image = await api("POST", `/subjects/${await ensureSubject()}/reference-images/`, form);
    show("reference-status", `Uploaded (${image.width} x ${image.height}).`);
  } catch (error) {
    show("reference-status", error.message, true);
  }
});

$("start-button").addEventListener("click", async () => {
  try {
    session = await api("POST", "/sessions/", { subject: await ensureSubject(), verify: true });
    show("session-status", `Session started; the token is valid until ${new Date(session.auth_token_expires_at).toLocaleTimeString()}.`);
    $("result").innerHTML = "";
    if (config.emulator_mode) {
      await startCamera();
      $("capture-button").disabled = false;
    } else {
      mountAzureCapture(session.auth_token);
    }
  } catch (error) {
    show("session-status", error.message, true);
  }
});

async function startCamera() {
  if (!navigator.mediaDevices || $("camera").srcObject) return;
  try {
    $("camera").srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (error) {
    show("session-status", "No camera: choose a picture instead.", true);
  }
}

function captureFrame() {
  const chosen = $("capture-file").files[0];
  if (chosen) return Promise.resolve(chosen);
  const video = $("camera");
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth || 320;
  canvas.height = video.videoHeight || 240;
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
}

$("capture-button").addEventListener("click", async () => {
  $("capture-button").disabled = true;
  try {
    const form = new FormData();
    form.append("content", await captureFrame(), "capture.jpg");
    const choice = OUTCOMES[document.querySelector("input[name=outcome]:checked").value];
    Object.entries(choice).forEach(([name, value]) => form.append(name, value));
    // The capture goes to the Face service, authorised by the session's token only.
    const response = await fetch(`${config.face_endpoint}/face/${config.face_api_version}/detectLivenessWithVerify/singleModal`, {
      method: "POST",
      headers: { Authorization: `Bearer ${session.auth_token}` },
      body: form,
    });
    if (!response.ok) throw new Error(`The Face service refused the capture (${response.status}).`);
    await finish();
  } catch (error) {
    show("session-status", error.message, true);
  }
});

async function finish() {
  // The app server fetches the result from the Face service; the page never reports it.
  let result = await api("POST", `/sessions/${session.id}/complete/`);
  // With a task worker (DEMO_TASKS), complete/ answers 202 at once: poll until the worker stored it.
  for (let tries = 0; ["created", "started"].includes(result.status) && tries < 30; tries++) {
    show("session-status", "Waiting for the result...");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    result = await api("GET", `/sessions/${session.id}/`);
  }
  const rows = [
    ["Status", result.status],
    ["Outcome", result.outcome || "-"],
    ["Liveness decision", result.liveness_decision || "-"],
    ["Same person", result.verification ? `${result.verification.is_identical} (confidence ${result.verification.match_confidence})` : "-"],
  ];
  $("result").innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
  $("result").querySelectorAll("dd")[1].className = `outcome-${result.outcome}`;
  if (result.outcome === "passed") {
    $("verified-status").textContent = "Identity verified (just now)";
    $("verified-status").className = "ok";
  }
  session = null;
}

// Real Azure: mount Microsoft's web capture component with the session's auth token. It is gated by
// Microsoft (https://aka.ms/azure-ai-vision-face-liveness-client-sdk-access); once installed on the page,
// it runs the check with the Face service and fires "analyzed" when done, after which the page calls finish().
function mountAzureCapture(authToken) {
  const host = $("azure-face-capture");
  if (!customElements.get("azure-ai-vision-face-ui")) {
    host.textContent = "Install Microsoft's azure-ai-vision-face-ui web component to capture with real Azure.";
    return;
  }
  const component = document.createElement("azure-ai-vision-face-ui");
  host.replaceChildren(component);
  component.start(authToken).then(finish, (error) => show("session-status", error.message, true));
}
