// "Select all" for the invites table: a header checkbox ticks every row box of its form.
// Listening on the document keeps it working after the lists are fetched again
// (organisation-refresh.js replaces them once a read from Docker Hub ends).
"use strict";

(function () {
  document.addEventListener("change", (event) => {
    const all = event.target;
    if (!(all instanceof HTMLInputElement) || !all.matches("[data-select-all]")) return;
    const scope = all.closest("[data-select-scope]");
    if (!scope) return;
    scope.querySelectorAll('input[type=checkbox][name="invite"]').forEach((box) => {
      box.checked = all.checked;
    });
  });
})();
