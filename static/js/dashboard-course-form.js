// Course settings: a live preview of repository names as the template is typed, filled the
// way the server fills it (Python's str.format with {course} and {docker_id}, lower-cased).
"use strict";

(function () {
  function fill(template, values) {
    let failed = false;
    const result = template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (match, name) => {
      if (match === "{{") return "{";
      if (match === "}}") return "}";
      if (!(name in values)) { failed = true; return match; }
      return values[name];
    });
    return failed ? null : result.toLowerCase();
  }

  function update() {
    const template = document.getElementById("id_repo_name_template");
    const preview = document.getElementById("repo-preview");
    if (!template || !preview) return;
    const slugField = document.getElementById("id_slug");
    const nameField = document.getElementById("id_name");
    const orgField = document.getElementById("id_organisation");
    let course = slugField && slugField.value ? slugField.value : "";
    if (!course && nameField) {
      course = nameField.value.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    }
    const org = (orgField ? orgField.value : "").toLowerCase();
    preview.querySelectorAll("li[data-docker-id]").forEach((item) => {
      const name = fill(template.value, { course: course || "course", docker_id: item.dataset.dockerId });
      item.querySelector(".name").textContent = name === null
        ? "(use only {course} and {docker_id})" : `${org}/${name}`;
    });
  }

  // A retiring build backend's note shows while it is the one chosen.
  function showRetirement() {
    const backend = document.getElementById("id_build_backend");
    if (!backend) return;
    document.querySelectorAll(".backend-retirement[data-backend]").forEach((note) => {
      note.hidden = note.dataset.backend !== backend.value;
    });
  }

  // The short name the server would derive from the name when none is given (Django's
  // slugify, cut to 60 characters), shown in the field so it can be kept or changed.
  function suggestSlug(name) {
    return name.normalize("NFKD").replace(/[^\x00-\x7F]/g, "")
      .replace(/[^\w\s-]/g, "").trim().toLowerCase()
      .replace(/[-\s]+/g, "-").replace(/^[-_]+|[-_]+$/g, "").slice(0, 60);
  }

  function suggestShortName() {
    const slugField = document.getElementById("id_slug");
    const nameField = document.getElementById("id_name");
    // Only while the course is new and the short name is not one the person typed.
    if (!slugField || !nameField || slugField.disabled || slugField.dataset.typed) return;
    slugField.value = suggestSlug(nameField.value);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const slugField = document.getElementById("id_slug");
    const nameField = document.getElementById("id_name");
    if (slugField && nameField && !slugField.disabled) {
      // A short name already there (a form sent back with errors) is the person's own
      // unless it is what the name suggests.
      if (slugField.value && slugField.value !== suggestSlug(nameField.value)) {
        slugField.dataset.typed = "1";
      }
      slugField.addEventListener("input", () => {
        // Emptied: suggesting starts again.
        if (slugField.value) slugField.dataset.typed = "1";
        else delete slugField.dataset.typed;
      });
      // Before update(), which reads the short name for the repository-name preview.
      nameField.addEventListener("input", suggestShortName);
    }
    const backend = document.getElementById("id_build_backend");
    if (backend) backend.addEventListener("change", showRetirement);
    showRetirement();
    ["id_repo_name_template", "id_slug", "id_name", "id_organisation"].forEach((id) => {
      const field = document.getElementById(id);
      if (field) field.addEventListener("input", update);
    });
    update();
  });
})();
