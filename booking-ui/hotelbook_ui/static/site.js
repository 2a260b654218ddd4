// Small enhancements; every page works without them.
(function () {
  "use strict";

  // City autocomplete: fill the <datalist> from the UI's suggestion endpoint.
  document.querySelectorAll("input[data-city-suggest]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      var prefix = input.value.trim();
      if (!list || prefix === last || prefix.length < 1) { return; }
      last = prefix;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(input.dataset.citySuggest + "?prefix=" + encodeURIComponent(prefix), {headers: {Accept: "application/json"}})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (cities) {
            list.replaceChildren.apply(list, cities.map(function (c) {
              var option = document.createElement("option");
              option.value = c.name;
              option.label = c.name + (c.country ? " (" + c.country + ")" : "");
              return option;
            }));
          })
          .catch(function () { /* autocomplete is optional */ });
      }, 150);
    });
  });

  // Hold countdown: the absolute time is in the page; this keeps "m:ss left" ticking.
  document.querySelectorAll(".countdown[data-expires]").forEach(function (el) {
    var end = Date.parse(el.dataset.expires);
    var value = el.querySelector(".countdown-value");
    if (isNaN(end) || !value) { return; }
    function tick() {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      value.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left === 0) {
        clearInterval(timer);
        el.textContent = "(the hold has ended — reload the page)";
        document.querySelectorAll(".pay-form button[type=submit]").forEach(function (b) { b.disabled = true; });
      }
    }
    var timer = setInterval(tick, 1000);
    tick();
  });

  // A payment button can only be pressed once per page (the Idempotency-Key protects the server side too).
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var question = form.dataset.confirm;
      if (question && !window.confirm(question)) { event.preventDefault(); return; }
      var button = form.querySelector("button[data-once]");
      if (button) {
        if (button.dataset.sent) { event.preventDefault(); return; }
        button.dataset.sent = "1";
        button.setAttribute("aria-disabled", "true");
        button.textContent = "Paying…";
      }
    });
  });

  // Filters are a disclosure so a phone shows results first; wide screens open it as a sidebar.
  if (window.matchMedia && window.matchMedia("(min-width: 801px)").matches) {
    document.querySelectorAll("details[data-open-wide]").forEach(function (el) { el.open = true; });
  }
})();
