// Live parts of a page, without a reload: an element with data-poll-url is replaced by the
// server-rendered partial at that URL every data-poll-interval seconds (default 3), only
// while the tab is visible. A partial that carries data-poll-stop ends the polling (for
// example once a build has finished). Pages never need more JS than this to stay fresh.
// Each element keeps the ETag of the partial it shows and sends it back (If-None-Match): a
// 304 means nothing changed and the element is left as it is, at almost no cost to the server.
"use strict";

(function () {
  const HIDDEN_CHECK_MS = 1000;

  function start(element) {
    const url = element.dataset.pollUrl;
    const every = Math.max(1, Number(element.dataset.pollInterval || 3)) * 1000;
    let timer = null;
    // The ETag of the HTML now shown, carried over from the element this one replaced.
    const etag = element.dataset.pollEtag || "";

    async function tick() {
      if (document.visibilityState !== "visible") {
        timer = setTimeout(tick, HIDDEN_CHECK_MS);
        return;
      }
      try {
        const headers = { "X-Requested-With": "fetch" };
        if (etag) headers["If-None-Match"] = etag;
        const response = await fetch(url, { headers, credentials: "same-origin" });
        if (response.status === 304) {
          timer = setTimeout(tick, every);
          return;
        }
        if (response.ok) {
          const html = await response.text();
          const holder = document.createElement("div");
          holder.innerHTML = html.trim();
          const fresh = holder.firstElementChild;
          if (fresh) {
            const freshTag = response.headers.get("ETag");
            if (freshTag) fresh.dataset.pollEtag = freshTag;
            element.replaceWith(fresh);
            element.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
            document.dispatchEvent(new CustomEvent("live:updated", { detail: fresh }));
            if (fresh.dataset.pollUrl && !("pollStop" in fresh.dataset)) start(fresh);
            return;
          }
        }
      } catch (error) {
        // Offline or the server restarting: try again at the next tick.
      }
      timer = setTimeout(tick, every);
    }

    timer = setTimeout(tick, every);
    return () => clearTimeout(timer);
  }

  function init(root) {
    root.querySelectorAll("[data-poll-url]:not([data-poll-stop])").forEach(start);
  }

  document.addEventListener("DOMContentLoaded", () => init(document));
  window.hubcourseLive = { init, start };
})();
