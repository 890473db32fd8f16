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
