// Concierge product assistant (blocks/product-assistant.liquid): tells the chat widget which product the visitor
// is looking at, and wires the block's "ask" button to open the chat.
//
// The block's element carries the product as data attributes (data-title, data-url, data-context); this file
// passes them to window.AIAssistant.setPageContext, which the Concierge embed script (the app embed block)
// defines. Both scripts are deferred and the app embed comes last in <body>, so the widget usually appears after
// this file has run: it then tries again on DOMContentLoaded, and on load. Running it twice (two
// blocks on a page) does no harm. No inline script or style: it works under a Content-Security-Policy.
(function () {
  "use strict";

  function api() {
    var assistant = window.AIAssistant;
    return assistant && typeof assistant.setPageContext === "function" ? assistant : null;
  }

  function text(element, name) {
    var value = element.getAttribute(name);
    return value && value.trim() ? value : undefined;
  }

  /** Applies the first product block on the page; false while the widget is not there yet. */
  function apply() {
    var assistant = api();
    if (!assistant) return false;
    var element = document.querySelector("[data-concierge-product]");
    if (!element) return true;
    assistant.setPageContext({
      title: text(element, "data-title"),
      url: text(element, "data-url"),
      context: text(element, "data-context"),
    });
    var buttons = document.querySelectorAll("[data-concierge-open]:not([data-concierge-bound])");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      button.setAttribute("data-concierge-bound", "");
      button.addEventListener("click", function () {
        var current = api();
        if (current && typeof current.open === "function") current.open();
      });
      button.hidden = false;
    }
    return true;
  }

  var done = false;
  function retry() {
    if (done) return;
    try {
      done = apply();
    } catch (error) {
      done = true;
      if (window.console) console.warn("[concierge] product context: " + error);
    }
  }
  retry();
  // Deferred scripts run while readyState is "interactive", before DOMContentLoaded: the widget's own deferred
  // script, later in the page, has run by then; an async or late one by load.
  if (!done && document.readyState !== "complete") {
    document.addEventListener("DOMContentLoaded", retry);
    window.addEventListener("load", retry);
  }
})();
