// A checkout's status, live, over AppSync's real-time WebSocket protocol (no library, no build).
//
// The page is Checkout's success_url: https://shop.example/order-status/?session={CHECKOUT_SESSION_ID}
// The signed-in app keeps the user's Cognito ID token in sessionStorage ("idToken"); a token in
// the URL fragment (#idToken=...) is moved there and removed from the address bar.
// Protocol: connect with ?header=<base64 {host, Authorization}>&payload=e30= and subprotocol
// graphql-ws -> connection_init -> connection_ack -> start (with the same authorization)
// -> start_ack -> data... ; ka messages keep the connection; no ka for connectionTimeoutMs: reconnect.
"use strict";

const LABELS = {
  AWAITING_PAYMENT: ["Waiting for your payment", "Pay at the konbini or by bank transfer; this page updates when it arrives."],
  PAID: ["Payment received", "We are preparing your download."],
  FULFILLED: ["Sent!", "Your download link is in your inbox."],
  FAILED: ["Payment failed", "The payment did not go through. Please try again."],
};
// Stripe sends events unordered: never step back (a late PAID after FULFILLED is ignored).
const RANK = { AWAITING_PAYMENT: 1, FAILED: 2, PAID: 2, FULFILLED: 3 };
const QUERY = `subscription OnOrder($appUserId: ID!, $checkoutSessionId: ID!) {
  onOrderStatus(appUserId: $appUserId, checkoutSessionId: $checkoutSessionId) {
    checkoutSessionId status stripeEventId at
  }
}`;

function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

// What a test (or another script on the page) can wait for.
const subscribed = deferred();
const waiting = [];
window.orderStatus = {
  history: [],
  current: null,
  subscribed: subscribed.promise,
  reached(status) {
    if (this.current === status) return Promise.resolve(this.history.slice());
    const d = deferred();
    waiting.push({ status, resolve: d.resolve });
    return d.promise;
  },
};

function idToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("idToken")) {
    sessionStorage.setItem("idToken", fragment.get("idToken"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("idToken");
}

function claims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
}

function show(status, title, detail) {
  const el = document.getElementById("status");
  el.dataset.status = status;
  el.textContent = title;
  document.getElementById("detail").textContent = detail;
}

function apply(update) {
  const status = update.status;
  window.orderStatus.history.push(status);
  const item = document.createElement("li");
  item.textContent = `${update.at || ""} ${status}`.trim();
  document.getElementById("history").appendChild(item);
  const current = window.orderStatus.current;
  if (current && RANK[status] < RANK[current]) return; // an older state, delivered late
  window.orderStatus.current = status;
  show(status, ...(LABELS[status] || [status, ""]));
  for (const w of waiting.splice(0)) {
    if (w.status === status) w.resolve(window.orderStatus.history.slice());
    else waiting.push(w);
  }
}

function connect(config, token, appUserId, session) {
  const auth = { host: config.graphqlHost, Authorization: token };
  const header = btoa(JSON.stringify(auth));
  const ws = new WebSocket(`${config.realtimeUrl}?header=${encodeURIComponent(header)}&payload=e30=`, ["graphql-ws"]);
  let timer = null;
  let timeoutMs = 300000;
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ws.close(), timeoutMs); // silent too long: reconnect below
  };
  ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init" }));
  ws.onmessage = (message) => {
    const msg = JSON.parse(message.data);
    switch (msg.type) {
      case "connection_ack":
        timeoutMs = msg.payload.connectionTimeoutMs;
        alive();
        ws.send(JSON.stringify({
          id: session,
          type: "start",
          payload: {
            data: JSON.stringify({ query: QUERY, variables: { appUserId, checkoutSessionId: session } }),
            extensions: { authorization: auth },
          },
        }));
        break;
      case "ka":
        alive();
        break;
      case "start_ack":
        if (!window.orderStatus.current) show("WAITING", "Order received", "Waiting for the payment's confirmation…");
        subscribed.resolve(true);
        break;
      case "data":
        apply(msg.payload.data.onOrderStatus);
        break;
      case "error":
      case "connection_error": {
        const errors = (msg.payload && msg.payload.errors) || [];
        show("ERROR", "Live updates unavailable", errors.map((e) => e.message).join("; "));
        ws.onclose = null;
        ws.close();
        break;
      }
    }
  };
  ws.onclose = () => {
    clearTimeout(timer);
    setTimeout(() => connect(config, token, appUserId, session), 2000);
  };
}

(function main() {
  const session = new URLSearchParams(location.search).get("session");
  document.getElementById("session").textContent = session || "(none)";
  const token = idToken();
  if (!session || !token) {
    show("ERROR", "Sign in to follow your order", "This page needs ?session=<checkout session id> and a signed-in user.");
    return;
  }
  const c = claims(token);
  connect(window.PAYOPS_LIVE_STATUS, token, c["cognito:username"] || c.username, session);
})();
