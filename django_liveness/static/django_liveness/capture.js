// The liveness capture widget of django-liveness: plain JavaScript, no build step, no CDN.
//
// A page renders the widget's config with json_script (docs/capture.md, "The capture page") and
// either lets this file start the widget on the config's session:
//     <div data-liveness-capture="liveness-capture-config"></div>
// or, on the hosted capture page, offer "Start", which asks config.urls.start for the session (a
// reload in the browser that started asks at once: config.resume), or starts it itself when it
// creates the session (the example project's demo.js):
//     const widget = LivenessCapture.mount(element, config, {onRestart, onFinal});
//     widget.start(session);
// Every string it shows comes from config.messages (django_liveness/capture_messages.py).
"use strict";

(function () {
  const OPEN = ["created", "started"];
  const POLL_INTERVAL_MS = 1000;
  const POLL_LIMIT = 30; // seconds, at one poll a second
  const COMPONENT_TAG = "azure-ai-vision-face-ui";
  const COMPONENT_TIMEOUT_MS = 20000;
  // Test mode: what the emulator's frontend endpoint is asked to answer (emulator/views.py).
  const TEST_OUTCOMES = {
    live: { decision: "realface", same_person: "true" },
    spoof: { decision: "spoofface", same_person: "true" },
    uncertain: { decision: "uncertain", same_person: "true" },
    different: { decision: "realface", same_person: "false" },
    no_face: { error_code: "FaceNotFound" },
  };
  const VERIFY_ONLY_OUTCOMES = ["different"]; // "a different person" needs a reference photo
  // The provider's attempt errors that have words of their own; others get "attempt_other".
  const ATTEMPT_MESSAGES = {
    FaceNotFound: "attempt_no_face",
    TooManyFaces: "attempt_too_many_faces",
    FaceWithMaskDetected: "attempt_face_covered",
    ClientIpAddressMismatch: "attempt_wrong_network", // the emulator's code (the spec names none)
  };
  // The provider's answers after which this session's token takes no more pictures.
  const SESSION_OVER = ["SessionAlreadyUsed", "TokenExpired", "Unauthorized"];
  const MAX_EVENT_MESSAGE = 500;
  // The camera preview is checked this often while it is on: Capture only takes a picture it shows.
  const PREVIEW_CHECK_MS = 500;
  const PREVIEW_SAMPLE = { width: 16, height: 12 };
  const BLACK_LEVEL = 16; // a sampled frame whose every pixel is darker than this is black

  let widgetCount = 0;

  // A call to the app (or the Face service) that did not give a usable answer.
  class RequestError extends Error {
    constructor(kind, detail, body = null) {
      super(detail);
      this.kind = kind; // "network" | "server" | "refused"
      this.body = body; // a refusal's JSON: {"detail", "code"}
    }
  }

  function element(tag, attributes = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    node.append(...children);
    return node;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function readJson(response) {
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("json")) return null;
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  function readConfig(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = element("script", { src, type: "module" });
      script.addEventListener("load", resolve, { once: true });
      script.addEventListener("error", () => reject(new Error(`could not load ${src}`)), { once: true });
      document.head.append(script);
    });
  }

  class CaptureWidget {
    constructor(root, config, { onRestart = null, onFinal = null } = {}) {
      this.root = root;
      this.config = config;
      this.messages = config.messages;
      this.onRestart = onRestart;
      this.onFinal = onFinal;
      this.session = null;
      this.canCapture = false; // the session's token may take another picture
      this.busy = false; // a request is in flight
      this.stream = null;
      this.previewLive = false; // the camera preview plays and is not black
      this.cameraHint = false; // the status line shows what the camera preview shows
      this.previewTimer = null;
      this.retryStep = null;
      this.lastCall = Promise.resolve(); // the last call to the app, settled or not
      this.render();
      window.addEventListener("pagehide", () => this.stopCamera());
      // A phone pauses a preview that leaves the screen, and a tab in the background: check it again.
      for (const event of ["playing", "pause", "emptied", "loadeddata", "resize"]) {
        this.video.addEventListener(event, () => this.checkPreview());
      }
      document.addEventListener("visibilitychange", () => this.resumePreview());
    }

    // --- the widget's markup ---------------------------------------------------------

    render() {
      const m = this.messages;
      const id = `liveness-capture-${++widgetCount}`;
      this.root.classList.add("lc");
      this.spinner = element("span", { class: "lc-spinner", "aria-hidden": "true", hidden: true });
      this.title = element("strong", { class: "lc-title", hidden: true });
      this.message = element("span", { class: "lc-message" });
      // In the page from the start (empty), so that screen readers follow its changes.
      this.status = element("div", { class: "lc-status lc-idle", role: "status", "aria-live": "polite", "aria-atomic": "true" }, [
        this.spinner,
        element("p", {}, [this.title, this.message]),
      ]);
      this.video = element("video", { autoplay: true, muted: true, playsinline: true, "aria-label": m.camera_preview });
      this.video.muted = true; // the attribute alone does not let Chromium autoplay
      this.picture = element("input", { type: "file", id: `${id}-picture`, accept: "image/*" });
      this.picture.addEventListener("change", () => this.pictureChosen());
      this.cameraArea = element("div", { class: "lc-camera" }, [
        this.video,
        element("div", { class: "lc-field" }, [element("label", { for: `${id}-picture`, text: m.picture_label }), this.picture]),
      ]);
      this.controls = element("div", { class: "lc-controls" });
      if (this.config.face.test_mode) this.controls.append(this.renderOutcomes(id));
      this.componentHost = element("div", { class: "lc-component" });
      this.captureButton = this.button(m.capture, "lc-capture", () => this.capture());
      this.captureButton.disabled = true;
      this.retryButton = this.button(m.try_again, "lc-retry", () => this.retry());
      this.restartButton = this.button(m.start_again, "lc-restart", () => this.restart());
      this.continueLink = element("a", { class: "lc-button lc-continue", text: m.continue, hidden: true });
      this.controls.append(element("div", { class: "lc-actions" }, [this.captureButton, this.retryButton, this.restartButton, this.continueLink]));
      this.startButton = this.button(m.start, "lc-start", () => this.claim());
      this.startArea = element("div", { class: "lc-actions lc-start-area", hidden: true }, [this.startButton]);
      this.root.replaceChildren(this.status, this.startArea, this.cameraArea, this.componentHost, this.controls);
      this.retryButton.hidden = this.restartButton.hidden = true;
      this.cameraArea.hidden = this.componentHost.hidden = this.controls.hidden = true; // until start()
    }

    renderOutcomes(id) {
      const m = this.messages;
      this.outcomes = element("fieldset", { class: "lc-outcomes" }, [element("legend", { text: m.outcomes_legend })]);
      for (const value of Object.keys(TEST_OUTCOMES)) {
        const input = element("input", { type: "radio", name: `${id}-outcome`, value, checked: value === "live" });
        const label = element("label", { class: VERIFY_ONLY_OUTCOMES.includes(value) ? "lc-verify-only" : null }, [
          input,
          element("span", { text: m[`outcome_${value}`] }),
        ]);
        this.outcomes.append(label);
      }
      return this.outcomes;
    }

    button(text, className, action) {
      const button = element("button", { type: "button", class: `lc-button ${className}`, text });
      button.addEventListener("click", action);
      return button;
    }

    // --- what the person sees --------------------------------------------------------

    wait(text) {
      this.show("busy", "", text);
    }

    show(tone, title, text) {
      this.cameraHint = false;
      if (tone === "busy") this.root.setAttribute("aria-busy", "true");
      else this.root.removeAttribute("aria-busy");
      this.status.className = `lc-status lc-${tone}`;
      this.spinner.hidden = tone !== "busy";
      this.title.hidden = !title;
      this.title.textContent = title;
      this.message.textContent = text;
    }

    updateButtons() {
      const hasImage = this.picture.files.length > 0 || this.previewLive;
      this.captureButton.disabled = this.busy || !this.canCapture || !hasImage;
      this.retryButton.disabled = this.restartButton.disabled = this.startButton.disabled = this.busy;
    }

    setBusy(busy) {
      this.busy = busy;
      this.updateButtons();
    }

    // --- the session's life ----------------------------------------------------------

    start(session) {
      const testMode = this.config.face.test_mode;
      this.session = session;
      this.canCapture = true;
      this.attemptsUsed = 0; // captures this page sent in this session (config.face.client_attempts allows)
      this.retryStep = null;
      this.picture.value = "";
      this.controls.hidden = false;
      this.captureButton.hidden = !testMode;
      this.retryButton.hidden = this.restartButton.hidden = this.continueLink.hidden = true;
      if (testMode) {
        this.outcomes.hidden = false;
        for (const choice of this.outcomes.querySelectorAll(".lc-verify-only")) {
          choice.hidden = session.kind !== "liveness_with_verify";
        }
        this.cameraArea.hidden = false;
        this.startCamera();
      } else {
        this.mountComponent();
      }
    }

    url(name) {
      const url = this.config.urls[name];
      return this.session ? url.replace("{id}", this.session.id) : url;
    }

    // --- the hosted page: its link is spent by this request, never by opening the page ---

    offerStart(resume) {
      this.startArea.hidden = false;
      if (resume) this.claim(); // a reload in the browser that started: go on at once
    }

    async claim() {
      if (this.busy) return;
      this.setBusy(true);
      this.wait(this.messages.starting);
      let answer;
      try {
        answer = await this.callApp("POST", "start");
      } catch (error) {
        this.setBusy(false);
        if (error.body && error.body.detail) {
          // Said by the app in the page's language: the link was used by another browser, or ended.
          this.startArea.hidden = true;
          return this.show("error", "", error.body.detail);
        }
        return this.requestFailed(error); // Start stays, to try again
      }
      this.startArea.hidden = true;
      this.config.headers = { ...this.config.headers, ...answer.body.headers };
      this.setBusy(false);
      this.start(answer.body.session);
    }

    callApp(method, name) {
      const call = this.fetchApp(method, name);
      this.lastCall = call.then(() => {}, () => {});
      return call;
    }

    async fetchApp(method, name) {
      let response;
      try {
        response = await fetch(this.url(name), { method, headers: this.config.headers, credentials: "same-origin" });
      } catch (error) {
        throw new RequestError("network", `${method} ${name}: ${error.message}`);
      }
      const body = await readJson(response);
      if (response.status >= 500 || body === null) {
        throw new RequestError("server", `${method} ${name}: ${response.status}${body === null ? ", not JSON" : ""}`);
      }
      if (!response.ok) throw new RequestError("refused", `${method} ${name}: ${response.status} ${body.code || ""}`.trim(), body);
      return { status: response.status, body };
    }

    // Best effort: the person never waits for it, and a failure is ignored. It goes after the call
    // to the app in flight, so that the page never writes twice at once (SQLite would refuse one).
    report(code, message) {
      if (!this.session) return;
      const url = this.url("client_events");
      const headers = { ...this.config.headers, "Content-Type": "application/json" };
      const body = JSON.stringify({ code, message: String(message).slice(0, MAX_EVENT_MESSAGE) });
      const send = () => fetch(url, { method: "POST", headers, body, credentials: "same-origin", keepalive: true });
      this.lastCall.then(send).catch(() => {});
    }

    requestFailed(error) {
      const codes = { network: "NetworkError", server: "ServerError", refused: "Other" };
      const words = { network: "network_error", server: "server_error", refused: "request_refused" };
      this.report(codes[error.kind], error.message);
      this.show("error", "", this.messages[words[error.kind]]);
    }

    // --- camera or picture (test mode) -----------------------------------------------

    async startCamera() {
      if (this.stream) return this.cameraReady();
      this.wait(this.messages.camera_starting);
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        return this.cameraFailed("CameraNotFound", "camera_not_found", "navigator.mediaDevices is not available");
      }
      try {
        this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
      } catch (error) {
        if (["NotAllowedError", "SecurityError"].includes(error.name)) {
          return this.cameraFailed("CameraPermissionDenied", "camera_denied", `${error.name}: ${error.message}`);
        }
        if (["NotFoundError", "OverconstrainedError"].includes(error.name)) {
          return this.cameraFailed("CameraNotFound", "camera_not_found", `${error.name}: ${error.message}`);
        }
        return this.cameraFailed("Other", "camera_unavailable", `${error.name}: ${error.message}`);
      }
      this.video.srcObject = this.stream;
      if (!this.video.videoWidth) await new Promise((resolve) => this.video.addEventListener("loadeddata", resolve, { once: true }));
      this.previewTimer = setInterval(() => this.checkPreview(), PREVIEW_CHECK_MS);
      this.cameraReady();
    }

    cameraReady() {
      this.video.hidden = false;
      this.cameraHint = true; // the status line says whether the camera shows a picture, until it says more
      this.checkPreview();
      this.reveal(); // once the status line has its words (and its height)
    }

    // A phone pauses a preview below the fold: show the widget, from its status line down, on the screen.
    reveal() {
      const box = this.root.getBoundingClientRect();
      if (box.top < 0 || box.bottom > window.innerHeight) this.root.scrollIntoView({ block: "start" });
    }

    resumePreview() {
      if (document.visibilityState === "visible" && this.stream && this.video.paused) this.video.play().catch(() => {});
      this.checkPreview();
    }

    // Capture takes the frame the preview shows: only while it plays and is not black.
    checkPreview() {
      this.previewLive = this.previewPlays() && !this.previewIsBlack();
      if (this.cameraHint && !this.busy) {
        this.show("info", "", this.previewLive ? this.messages.camera_ready : this.messages.camera_no_picture);
        this.cameraHint = true;
      }
      this.updateButtons();
    }

    previewPlays() {
      const video = this.video;
      return Boolean(this.stream) && !video.hidden && !video.paused && !video.ended && video.readyState >= 2 && video.videoWidth > 0;
    }

    previewIsBlack() {
      this.sample = this.sample || element("canvas", PREVIEW_SAMPLE).getContext("2d", { willReadFrequently: true });
      this.sample.drawImage(this.video, 0, 0, PREVIEW_SAMPLE.width, PREVIEW_SAMPLE.height);
      const pixels = this.sample.getImageData(0, 0, PREVIEW_SAMPLE.width, PREVIEW_SAMPLE.height).data;
      for (let i = 0; i < pixels.length; i += 4) {
        if (Math.max(pixels[i], pixels[i + 1], pixels[i + 2]) >= BLACK_LEVEL) return false;
      }
      return true;
    }

    cameraFailed(code, words, detail) {
      this.report(code, detail);
      this.video.hidden = true;
      this.show("error", "", this.messages[words]);
      this.updateButtons(); // stays disabled until a picture is chosen
    }

    stopCamera() {
      clearInterval(this.previewTimer);
      this.previewTimer = null;
      if (!this.stream) return;
      this.stream.getTracks().forEach((track) => track.stop());
      this.stream = null;
      this.previewLive = false;
      this.video.srcObject = null;
    }

    pictureChosen() {
      if (this.picture.files.length && this.canCapture) this.show("info", "", this.messages.picture_chosen);
      this.updateButtons();
    }

    image() {
      const chosen = this.picture.files[0];
      if (chosen) return Promise.resolve(chosen);
      const canvas = element("canvas", { width: this.video.videoWidth, height: this.video.videoHeight });
      canvas.getContext("2d").drawImage(this.video, 0, 0, canvas.width, canvas.height);
      return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    }

    faceUrl() {
      const { endpoint, api_version: version } = this.config.face;
      const operation = this.session.kind === "liveness_with_verify" ? "detectLivenessWithVerify" : "detectLiveness";
      return `${endpoint.replace(/\/$/, "")}/face/${version}/${operation}/singleModal`;
    }

    async capture() {
      if (this.busy) return;
      this.setBusy(true);
      this.wait(this.messages.checking);
      const form = new FormData();
      form.append("content", await this.image(), "capture.jpg");
      const chosen = this.outcomes.querySelector("input:checked").value;
      for (const [name, value] of Object.entries(TEST_OUTCOMES[chosen])) form.append(name, value);
      let response;
      try {
        // The picture goes to the Face service, authorised by the session's token only.
        response = await fetch(this.faceUrl(), { method: "POST", headers: { Authorization: `Bearer ${this.session.auth_token}` }, body: form });
      } catch (error) {
        return this.captureFailed(new RequestError("network", `capture: ${error.message}`));
      }
      if (response.ok) {
        this.attemptsUsed++;
        return this.finish(null);
      }
      const body = await readJson(response);
      const code = body && body.error && body.error.code;
      if (response.status >= 500 || !code) {
        return this.captureFailed(new RequestError("server", `capture: ${response.status}`));
      }
      if (!SESSION_OVER.includes(code)) this.attemptsUsed++;
      const finished = this.finish(code);
      this.report("CaptureRefused", `${response.status} ${code}: ${body.error.message || ""}`);
      return finished;
    }

    // The picture did not reach the Face service: the session is as it was, so Capture is the retry.
    captureFailed(error) {
      this.requestFailed(error);
      this.setBusy(false);
    }

    // --- Microsoft's web component (real Azure) --------------------------------------

    async mountComponent() {
      const script = this.config.face.web_component_script;
      this.componentHost.hidden = false;
      this.setBusy(true);
      this.wait(this.messages.loading_component);
      try {
        if (!script) throw new Error("face.web_component_script is not set");
        if (!customElements.get(COMPONENT_TAG)) await loadScript(script);
        const timeout = sleep(COMPONENT_TIMEOUT_MS).then(() => Promise.reject(new Error(`${COMPONENT_TAG} was not defined`)));
        await Promise.race([customElements.whenDefined(COMPONENT_TAG), timeout]);
      } catch (error) {
        this.report("SdkError", error.message);
        this.show("error", "", this.messages.component_missing);
        this.setBusy(false);
        return;
      }
      const component = document.createElement(COMPONENT_TAG);
      this.componentHost.replaceChildren(component);
      this.show("idle", "", ""); // the component shows its own instructions
      this.reveal();
      // The component talks to the Face service itself; its promise settles when the attempt ends.
      component.start(this.session.auth_token).then(
        () => {
          this.attemptsUsed++;
          this.finish(null);
        },
        (error) => {
          this.attemptsUsed++;
          this.finish("SdkError");
          this.report("SdkError", (error && (error.livenessError || error.message)) || String(error));
        },
      );
    }

    // --- the result ------------------------------------------------------------------

    // The app fetches the result from the provider itself; the page only says the capture ended.
    async finish(attemptError) {
      this.setBusy(true);
      this.retryButton.hidden = true;
      this.wait(this.messages.waiting_result);
      let answer;
      try {
        answer = await this.callApp("POST", "complete");
        // 202: a background worker fetches the result. A failed attempt leaves the session open: no wait.
        for (let polls = 0; answer.status === 202 && !attemptError && OPEN.includes(answer.body.status); polls++) {
          if (polls === POLL_LIMIT) return this.offerRetry("still_waiting", "check_again", () => this.finish(null));
          await sleep(POLL_INTERVAL_MS);
          answer = { status: 202, body: (await this.callApp("GET", "session")).body };
        }
      } catch (error) {
        this.requestFailed(error);
        return this.offerRetry(null, "try_again", () => this.finish(attemptError));
      }
      this.setBusy(false);
      this.showSession(answer.body, attemptError);
    }

    offerRetry(words, buttonWords, step) {
      if (words) this.show("warn", "", this.messages[words]);
      this.retryStep = step;
      this.retryButton.textContent = this.messages[buttonWords];
      this.retryButton.hidden = false;
      this.setBusy(false);
      this.retryButton.focus();
    }

    retry() {
      if (this.busy || !this.retryStep) return;
      this.retryButton.hidden = true;
      this.retryStep();
    }

    showSession(session, attemptError) {
      const m = this.messages;
      if (OPEN.includes(session.status)) {
        if (SESSION_OVER.includes(attemptError)) return this.ended(session, "error", m.used_up_title);
        if (!attemptError) return this.offerRetry("still_waiting", "check_again", () => this.finish(null));
        // A failed attempt: the same session (and token) takes another picture, while the session allows one.
        // In test mode the service answered this attempt's error, so the session has one attempt less; the
        // component may fail before it reaches the service (UserCanceled): there it offers "Try again" anyway.
        const left = this.attemptsLeft();
        if (left === 0 && this.config.face.test_mode) return this.awaitFinal(attemptError);
        const reason = m[ATTEMPT_MESSAGES[attemptError] || "attempt_other"];
        this.show("warn", m.attempt_failed, left ? `${reason} ${this.attemptsLeftText(left)}` : reason);
        if (!this.config.face.test_mode) this.offerRetry(null, "try_again", () => this.mountComponent());
        return this.updateButtons();
      }
      const outcome = session.outcome; // the outcome that counts: a review already overrides the provider's
      if (session.status === "completed" && outcome === "passed") return this.ended(session, "ok", m.passed_title, m.passed_next);
      if (session.status === "completed" && outcome === "needs_review") return this.ended(session, "warn", m.review_title, m.review_next);
      const [title, advice] = this.failure(session, outcome);
      this.ended(session, "error", title, advice ? `${advice} ${this.againHint()}` : null);
    }

    // The captures this session still takes, or null when the API version does not say how many it allows.
    attemptsLeft() {
      const allowed = this.config.face.client_attempts;
      return Number.isInteger(allowed) ? Math.max(0, allowed - this.attemptsUsed) : null;
    }

    attemptsLeftText(left) {
      const words = left === 1 ? this.messages.attempts_left_one : this.messages.attempts_left_other;
      return words.replace("{count}", String(left));
    }

    // The last allowed attempt failed: the provider ends the session. Ask until the app says so, then
    // show that result (within COMPLETE_MIN_INTERVAL_SECONDS the app answers what it stored before).
    async awaitFinal(attemptError) {
      this.canCapture = false;
      this.setBusy(true);
      this.wait(this.messages.waiting_result);
      try {
        for (let polls = 0; polls < POLL_LIMIT; polls++) {
          await sleep(POLL_INTERVAL_MS);
          const answer = await this.callApp("POST", "complete");
          if (!OPEN.includes(answer.body.status)) {
            this.setBusy(false);
            return this.showSession(answer.body, attemptError);
          }
        }
      } catch (error) {
        this.requestFailed(error);
        return this.offerRetry(null, "try_again", () => this.awaitFinal(attemptError));
      }
      this.offerRetry("still_waiting", "check_again", () => this.awaitFinal(attemptError));
    }

    againHint() {
      return this.onRestart ? this.messages.next_start_again : this.messages.next_go_back;
    }

    // What went wrong, and the advice that fits it (light helps against a spoof, not a different face).
    failure(session, outcome) {
      const m = this.messages;
      if (session.status === "expired") return [m.expired_title];
      if (session.status === "canceled") return [m.canceled_title];
      if (session.status !== "completed" || outcome !== "failed") return [m.failed_title];
      if (session.review_status === "rejected") return [m.rejected_title];
      if (session.liveness_decision === "spoofface") return [m.spoof_title, m.advice_spoof];
      if (session.verification && !session.verification.is_identical) return [m.mismatch_title, m.advice_mismatch];
      return [m.not_verified_title];
    }

    // A final answer: this session takes no more pictures.
    ended(session, tone, title, next) {
      this.canCapture = false;
      this.stopCamera();
      this.cameraArea.hidden = this.componentHost.hidden = this.captureButton.hidden = true;
      if (this.outcomes) this.outcomes.hidden = true;
      this.componentHost.replaceChildren();
      this.show(tone, title, next || this.againHint());
      this.restartButton.hidden = !this.onRestart;
      if (this.config.return_url) {
        this.continueLink.href = this.config.return_url;
        this.continueLink.hidden = false;
      }
      this.updateButtons();
      if (this.onFinal) this.onFinal(session);
    }

    async restart() {
      if (this.busy || !this.onRestart) return;
      this.setBusy(true);
      try {
        await this.onRestart();
      } finally {
        this.setBusy(false);
      }
    }
  }

  function mount(root, config, hooks) {
    return new CaptureWidget(root, config, hooks);
  }

  // Pages that hand the widget a session (the hosted capture page) start it at once.
  function mountAll() {
    for (const root of document.querySelectorAll("[data-liveness-capture]")) {
      const config = readConfig(root.dataset.livenessCapture || "liveness-capture-config");
      if (config.session) mount(root, config).start(config.session);
      else if (config.urls && config.urls.start) mount(root, config).offerStart(config.resume);
    }
  }

  window.LivenessCapture = { mount, readConfig };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
