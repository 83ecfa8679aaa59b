// Keyboard shortcuts and select-all for the review queue; the page works without it.
(function () {
  "use strict";
  function items() { return Array.prototype.slice.call(document.querySelectorAll("article.item")); }
  function focused() { return document.querySelector("article.item.focused"); }
  function focus(el) {
    if (!el) { return; }
    items().forEach(function (i) { i.classList.remove("focused"); });
    el.classList.add("focused");
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "start" });
  }
  function move(step) {
    var all = items(), cur = focused(), at = cur ? all.indexOf(cur) : -1;
    focus(all[Math.min(Math.max(at + step, 0), all.length - 1)]);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    focus(target || items()[0]);
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("input.pick").forEach(function (c) { c.checked = all.checked; });
      });
    }
  });
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (ev.ctrlKey || ev.metaKey || ev.altKey || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(tag)) { return; }
    var cur = focused();
    if (ev.key === "j") { move(1); } else if (ev.key === "k") { move(-1); }
    else if (ev.key === "a" && cur) {
      var form = cur.querySelector("form.approve-form");
      if (form) { form.requestSubmit(); }
    } else if (ev.key === "x" && cur) {
      var pick = cur.querySelector("input.pick");
      if (pick) { pick.checked = !pick.checked; }
    } else if (ev.key === "e" && cur) {
      var edit = cur.querySelector("details.edit");
      if (edit) { edit.open = true; var t = edit.querySelector("textarea"); if (t) { t.focus(); } }
    } else { return; }
    ev.preventDefault();
  });
}());
