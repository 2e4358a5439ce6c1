// Progressive enhancement only: every page works without this file.
// It submits the currency switcher as soon as a currency is picked, so the
// "Change" button that no-JavaScript visitors use can be hidden.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });
})();
