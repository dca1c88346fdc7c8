// Task forms (web/templates/_schema_form.html), made easier where a browser runs scripts:
// tables add and remove rows, and a conditional section shows only when it applies.
// Without this script the page still works: every spare row and every section is there,
// and the server keeps the rows it gets and checks only the sections that apply.
(function () {
  "use strict";

  // ------------------------------------------------------------------ table rows
  var CELL = /^(.+)\[(\d+)\](\[[^\[\]]+\])$/;

  function rowsOf(table) {
    return Array.prototype.slice.call(table.querySelectorAll("tbody > tr"));
  }

  function inputsOf(row) {
    return Array.prototype.slice.call(row.querySelectorAll("input, select, textarea"));
  }

  function isEmpty(row) {
    return inputsOf(row).every(function (el) {
      if (el.type === "radio" || el.type === "checkbox") return !el.checked;
      return el.value.trim() === "";
    });
  }

  function nextIndex(table) {
    var most = -1;
    table.querySelectorAll("[name]").forEach(function (el) {
      var m = CELL.exec(el.name);
      if (m) most = Math.max(most, parseInt(m[2], 10));
    });
    return most + 1;
  }

  function renumber(fieldset) {
    var rows = rowsOf(fieldset.querySelector("table"));
    rows.forEach(function (row, i) {
      row.querySelector("th[scope=row]").textContent = String(i + 1);
      var remove = row.querySelector(".remove-row");
      if (remove) remove.setAttribute("aria-label", remove.dataset.label.replace("{n}", String(i + 1)));
    });
    var max = parseInt(fieldset.dataset.maxRows, 10);
    fieldset.querySelector(".add-row").disabled = !isNaN(max) && rows.length >= max;
  }

  function addRow(fieldset) {
    var table = fieldset.querySelector("table");
    var rows = rowsOf(table);
    var index = nextIndex(table);
    var row = rows[rows.length - 1].cloneNode(true);
    row.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    row.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    inputsOf(row).forEach(function (el) {
      var m = CELL.exec(el.name);
      if (m) el.name = m[1] + "[" + index + "]" + m[3];
      if (el.id) el.id = el.id.replace(/-\d+-([^-]*)$/, "-" + index + "-$1");
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
      if (el.tagName === "SELECT") el.selectedIndex = 0;
      else if (el.type === "radio" || el.type === "checkbox") el.checked = false;
      else el.value = "";
    });
    row.querySelectorAll(".attached").forEach(function (el) { el.remove(); });
    table.querySelector("tbody").appendChild(row);
    renumber(fieldset);
    var first = inputsOf(row).filter(function (el) { return el.type !== "hidden"; })[0];
    if (first) first.focus();
  }

  function removeRow(fieldset, row) {
    var rows = rowsOf(fieldset.querySelector("table"));
    if (rows.length <= 1) { // the last row is emptied, so there is still a row to type into
      inputsOf(row).forEach(function (el) {
        if (el.tagName === "SELECT") el.selectedIndex = 0;
        else if (el.type === "radio" || el.type === "checkbox") el.checked = false;
        else if (el.type !== "hidden") el.value = "";
      });
    } else {
      row.remove();
    }
    renumber(fieldset);
    fieldset.querySelector(".add-row").focus();
  }

  function editableTable(fieldset) {
    var rows = rowsOf(fieldset.querySelector("table"));
    // the spare empty rows the server gives a page without this script: one is enough here
    for (var i = rows.length - 1; i > 0 && isEmpty(rows[i]) && isEmpty(rows[i - 1]); i--) rows[i].remove();
    fieldset.querySelectorAll(".row-actions, .table-actions").forEach(function (el) { el.hidden = false; });
    fieldset.querySelector(".add-row").addEventListener("click", function () { addRow(fieldset); });
    fieldset.addEventListener("click", function (event) {
      var button = event.target.closest(".remove-row");
      if (button) removeRow(fieldset, button.closest("tr"));
    });
    renumber(fieldset);
  }

  // ------------------------------------------------------------------ conditional sections
  function valueOf(form, name) {
    var found = "";
    form.querySelectorAll("[name]").forEach(function (el) {
      if (el.name !== name || el.disabled) return;
      if (el.type === "radio" || el.type === "checkbox") { if (el.checked) found = el.value; }
      else found = el.value;
    });
    return found;
  }

  function holds(form, condition) {
    return Object.keys(condition).every(function (name) {
      var value = valueOf(form, name);
      var test = condition[name];
      if (value === "") return false;
      if (test.in) return test.in.indexOf(value) >= 0;
      return test.not_in.indexOf(value) < 0;
    });
  }

  function showSections(form) {
    var sections = form.querySelectorAll("[data-show-when]");
    // a section's condition may name a field of another section: settle in a few rounds
    for (var round = 0; round < 4; round++) {
      var changed = false;
      sections.forEach(function (section) {
        var applies = JSON.parse(section.dataset.showWhen).some(function (c) { return holds(form, c); });
        if (section.hidden === !applies) return;
        changed = true;
        section.hidden = !applies;
        section.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !applies; });
      });
      if (!changed) break;
    }
  }

  document.querySelectorAll("form.schema-form").forEach(function (form) {
    form.querySelectorAll("fieldset.rows-editable").forEach(editableTable);
    if (form.querySelector("[data-show-when]")) {
      showSections(form);
      form.addEventListener("change", function () { showSections(form); });
    }
  });
})();
