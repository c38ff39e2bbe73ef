// "Select all" for the invites table: a header checkbox ticks every row box of its form.
"use strict";

(function () {
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-select-scope]").forEach((scope) => {
      const all = scope.querySelector("[data-select-all]");
      if (!all) return;
      const boxes = () => scope.querySelectorAll('input[type=checkbox][name="invite"]');
      all.addEventListener("change", () => {
        boxes().forEach((box) => { box.checked = all.checked; });
      });
    });
  });
})();
