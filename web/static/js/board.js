// The day board refreshes itself every minute (htmx, hx-trigger="every 60s").
(function () {
  function isBoard(element) { return element && element.id === "board-body"; }

  // A refresh would throw away a form the desk has open (a cancel reason half typed): wait until none is.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var body = event.detail.elt;
    if (!isBoard(body)) return;
    var active = document.activeElement;
    // Open and on screen: a form left open inside a closed panel is out of sight, so it does not count.
    var shown = Array.prototype.some.call(body.querySelectorAll("details[open]"), function (details) {
      return !details.parentElement.closest("details:not([open])");
    });
    if (shown || (body.contains(active) && active.matches("input, textarea, select"))) {
      event.preventDefault();
    }
  });

  // A session's menu opens over everything, placed in the viewport: inside the board's scroll area
  // (overflow-x) it was cut off on a sparse day, with a single chair row to hold it.
  function placePanel(menu) {
    var panel = menu.querySelector(":scope > .block__panel");
    if (!panel) return;
    if (!menu.open) { panel.removeAttribute("style"); return; }
    var anchor = menu.querySelector(":scope > summary").getBoundingClientRect();
    var margin = 8;
    panel.style.position = "fixed";
    panel.style.right = "auto";
    panel.style.maxHeight = (window.innerHeight - 2 * margin) + "px";
    panel.style.overflowY = "auto";
    var width = panel.offsetWidth, height = panel.offsetHeight;
    var left = Math.min(Math.max(margin, anchor.right - width), window.innerWidth - width - margin);
    var top = anchor.bottom + 4;
    if (top + height > window.innerHeight - margin) {
      // No room below: above the button if it fits there, else as low as the window allows.
      top = anchor.top - height - 4 >= margin ? anchor.top - height - 4 : Math.max(margin, window.innerHeight - height - margin);
    }
    panel.style.left = left + "px";
    panel.style.top = top + "px";
  }
  function placeOpenPanels() {
    Array.prototype.forEach.call(document.querySelectorAll("details.block__more[open]"), placePanel);
  }
  // "toggle" does not bubble; the menu's own Cancel… and Undo check-in… grow it, so they re-place it too.
  document.addEventListener("toggle", function (event) {
    var menu = event.target.closest && event.target.closest("details.block__more");
    if (menu) placePanel(menu);
  }, true);
  window.addEventListener("scroll", placeOpenPanels, true);
  window.addEventListener("resize", placeOpenPanels);

  // Signed out meanwhile (idle timeout): the answer is the login page, not the board. Show it whole.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isBoard(event.detail.target)) return;
    var url = event.detail.xhr.responseURL;
    if (url && new URL(url).pathname !== window.location.pathname) {
      event.detail.shouldSwap = false;
      window.location.assign(url);
    }
  });
})();
