// Draw every chart of the page: each <div data-chart="ID"> gets the plotly figure in the
// <script type="application/json" id="ID"> beside it (built by the server). No inline script,
// so the Content-Security-Policy can forbid them.
"use strict";

function drawCharts() {
  for (const element of document.querySelectorAll("[data-chart]")) {
    const source = document.getElementById(element.dataset.chart);
    if (!source) continue;
    const figure = JSON.parse(source.textContent);
    const layout = Object.assign({ autosize: true }, figure.layout);
    Plotly.newPlot(element, figure.data, layout, { responsive: true, displayModeBar: false });
  }
}

document.addEventListener("DOMContentLoaded", drawCharts);
