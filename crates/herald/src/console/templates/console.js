// Herald console: progressive touches only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Confirm before removing things.
  document.querySelectorAll("button[data-confirm]").forEach((b) => {
    b.addEventListener("click", (e) => { if (!confirm(b.dataset.confirm)) e.preventDefault(); });
  });

  // Channel order: up/down buttons that move a row and renumber positions.
  const rows = document.getElementById("channel-rows");
  if (rows) {
    const renumber = () => rows.querySelectorAll(".channel-row").forEach((li, i) => {
      li.querySelector(".position").value = i + 1;
    });
    rows.querySelectorAll(".channel-row").forEach((li) => {
      const name = li.querySelector(".name").textContent;
      const box = document.createElement("span");
      box.className = "moves";
      for (const [dir, text] of [["up", "↑"], ["down", "↓"]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = text;
        b.setAttribute("aria-label", `Move ${name} ${dir}`);
        b.addEventListener("click", () => {
          if (dir === "up" && li.previousElementSibling) rows.insertBefore(li, li.previousElementSibling);
          if (dir === "down" && li.nextElementSibling) rows.insertBefore(li.nextElementSibling, li);
          renumber();
          b.focus();
        });
        box.appendChild(b);
      }
      li.insertBefore(box, li.querySelector(".field-error"));
    });
  }

  // Live preview: the API's preview of the editor's fields as they are
  // now, saved or not (the editor's fields go with the preview's).
  const pf = document.getElementById("preview-form");
  const out = document.getElementById("preview-result");
  const tf = document.getElementById("type-form");
  if (pf && out) {
    let timer = null;
    const run = async () => {
      const body = new URLSearchParams(new FormData(pf));
      if (tf) {
        for (const [k, v] of new FormData(tf)) if (k !== "csrf") body.append(k, v);
      }
      const resp = await fetch(pf.action, {
        method: "POST", body, credentials: "same-origin",
        headers: { "X-Herald-Fragment": "1" },
      });
      if (resp.ok) out.innerHTML = await resp.text();
    };
    pf.addEventListener("submit", (e) => { e.preventDefault(); run(); });
    const later = () => { clearTimeout(timer); timer = setTimeout(run, 400); };
    pf.addEventListener("input", later);
    if (tf) { tf.addEventListener("input", later); tf.addEventListener("change", later); }
  }

  // Integrations: show only the chosen provider's secret fields.
  document.querySelectorAll("form.integration").forEach((f) => {
    const sel = f.querySelector(".provider-select");
    const show = () => f.querySelectorAll("fieldset.secrets").forEach((fs) => {
      fs.hidden = fs.dataset.provider !== sel.value;
    });
    sel.addEventListener("change", show);
    show();
  });
});
