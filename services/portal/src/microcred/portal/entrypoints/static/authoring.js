// The credential editor works without this script. It only warns before the author leaves the page with typed
// changes that were not saved (the editor's add and remove buttons send the form, so they never lose anything).
(function () {
  "use strict";
  var form = document.querySelector("form.editor");
  if (!form) { return; }
  var changed = false;
  form.addEventListener("input", function () { changed = true; });
  form.addEventListener("submit", function () { changed = false; });
  window.addEventListener("beforeunload", function (event) {
    if (changed) { event.preventDefault(); event.returnValue = ""; }
  });
}());
