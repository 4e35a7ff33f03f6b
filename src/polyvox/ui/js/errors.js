// Show an API error as its message next to the field it names (its `param`), or on the form.

function fieldFor(form, param) {
  if (!param) return null;
  const names = [param, param.replace(/\[\d+\]$/, ""), param.split(".")[0], param.split(".").pop()];
  for (const name of names) {
    const found = form.querySelector(`[data-param="${CSS.escape(name)}"]`);
    if (found) return found;
  }
  return null;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => {
    node.removeAttribute("aria-invalid");
    const ids = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.endsWith("-error"));
    if (ids.length) node.setAttribute("aria-describedby", ids.join(" "));
    else node.removeAttribute("aria-describedby");
  });
  const general = form.querySelector(".form-error");
  if (general) {
    general.textContent = "";
    general.hidden = true;
  }
}

export function showError(form, error) {
  const message = error.message || String(error);
  const field = fieldFor(form, error.param);
  if (field) {
    field.closest("details")?.setAttribute("open", "");
    const note = document.createElement("p");
    note.className = "field-error";
    note.id = `${field.id || "field"}-error`;
    note.setAttribute("role", "alert");
    note.dataset.errorFor = error.param;
    note.textContent = message;
    (field.closest(".field") || field.parentElement).append(note);
    field.setAttribute("aria-invalid", "true");
    const ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    field.setAttribute("aria-describedby", [...ids, note.id].join(" "));
    field.focus({ preventScroll: false });
    return;
  }
  const general = form.querySelector(".form-error");
  if (general) {
    general.textContent = message;
    general.hidden = false;
  }
}
