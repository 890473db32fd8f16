// The day board refreshes itself every minute (htmx, hx-trigger="every 60s"). A refresh would
// throw away a form the desk has open (a cancel reason half typed), so it waits until none is.
document.addEventListener("htmx:beforeRequest", function (event) {
  var body = event.detail.elt;
  if (body.id !== "board-body") return;
  if (body.querySelector("details[open]") || body.contains(document.activeElement) && document.activeElement.matches("input, textarea, select")) {
    event.preventDefault();
  }
});
