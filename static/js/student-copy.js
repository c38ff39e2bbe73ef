// A "Copy" button next to a read-only field: <button data-copy="#field-id">. Without JS (or
// clipboard access) the field can still be selected and copied by hand.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  } catch (error) {
    button.textContent = "Press Ctrl+C to copy";
  }
});
