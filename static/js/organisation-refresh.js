// A part of the page rendered while a job was still running (the rows of a bulk add, the
// students of an offboarding) goes stale when the job ends: an element with
// data-refresh-when="<id>" is fetched again from this page's address once the live element
// with that id stops polling (its partial carries data-poll-stop; see live.js). A live element
// that also carries data-refresh-self is replaced by the page's own copy too: its "show the
// new lists" link is for when this refresh fails, and would be stale once it succeeded.
"use strict";

(function () {
  document.addEventListener("live:updated", async (event) => {
    const fresh = event.detail;
    if (!fresh || !fresh.id || !("pollStop" in fresh.dataset)) return;
    const stale = [...document.querySelectorAll(`[data-refresh-when="${fresh.id}"]`)];
    if (!stale.length) return;
    if ("refreshSelf" in fresh.dataset) stale.push(fresh);
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      stale.forEach((element) => {
        const next = element.id && page.getElementById(element.id);
        if (next) element.replaceWith(document.importNode(next, true));
      });
    } catch (error) {
      // Offline or the server restarting: the page's own link shows the outcome.
    }
  });
})();
