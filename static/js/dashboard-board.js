// The class board: keeps the ticked students ticked while the live table refreshes, and
// "select every student on this page". Without JS the checkboxes still post as usual.
"use strict";

(function () {
  const selected = new Set();

  function boxes() {
    return document.querySelectorAll('#board input[name="ids"]');
  }

  function show() {
    const counter = document.getElementById("selected-count");
    if (counter) counter.textContent = selected.size ? `${selected.size} selected` : "";
  }

  function restore() {
    boxes().forEach((box) => { box.checked = selected.has(box.value); });
    const all = document.querySelector("#board [data-select-all]");
    const list = Array.from(boxes());
    if (all) all.checked = list.length > 0 && list.every((box) => box.checked);
    show();
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.name === "ids") {
      if (target.checked) selected.add(target.value); else selected.delete(target.value);
      restore();
    } else if (target.hasAttribute("data-select-all")) {
      boxes().forEach((box) => {
        box.checked = target.checked;
        if (target.checked) selected.add(box.value); else selected.delete(box.value);
      });
      show();
    }
  });

  // Students ticked on an earlier refresh but no longer in the table still post with the form.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.id !== "bulk") return;
    const shown = new Set(Array.from(boxes()).map((box) => box.value));
    selected.forEach((value) => {
      if (shown.has(value)) return;
      const hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = "ids"; hidden.value = value;
      form.appendChild(hidden);
    });
  });

  document.addEventListener("live:updated", restore);
})();
