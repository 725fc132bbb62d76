/*
 * Draws the figures a page embeds as JSON: <div data-chart="ID"> takes its figure from
 * <script type="application/json" id="ID">. The figures are built on the server
 * (nuri.web.charts); plotly.js comes from the installed plotly package.
 */
(function () {
  "use strict";

  function draw() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var source = document.getElementById(element.getAttribute("data-chart"));
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      Plotly.newPlot(element, figure.data, figure.layout, {
        displaylogo: false,
        responsive: true,
        modeBarButtonsToRemove: ["select2d", "lasso2d"],
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
