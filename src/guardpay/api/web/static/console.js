// The dashboard's charts redrawn on their own: each image marked data-refresh="N" is
// fetched again every N seconds (the page shows the same charts without this script).
(function () {
  "use strict";
  var charts = document.querySelectorAll("img[data-refresh]");
  Array.prototype.forEach.call(charts, function (chart) {
    var base = chart.getAttribute("src").split("?")[0];
    var every = parseInt(chart.getAttribute("data-refresh"), 10) * 1000;
    window.setInterval(function () {
      chart.setAttribute("src", base + "?t=" + Date.now());
    }, every);
  });
})();
