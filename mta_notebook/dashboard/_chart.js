// One dashboard chart (an anywidget): Python sends the figure as plain JSON in "figure" and
// plotly.js (window.Plotly, loaded once per page by the dashboard's loader widget) draws it
// with Plotly.react, in place, at the width of the slot it sits in.
function plotly() {
  return new Promise((resolve) => {
    const wait = () => (window.Plotly ? resolve(window.Plotly) : setTimeout(wait, 25));
    wait();
  });
}

async function render({ model, el }) {
  const gd = document.createElement("div");
  gd.className = "mta-chart";
  gd.style.width = "100%";
  el.style.width = "100%";
  el.style.minWidth = "0";
  el.appendChild(gd);
  const Plotly = await plotly();
  const draw = async () => {
    const fig = model.get("figure") || {};
    const layout = { ...(fig.layout || {}), autosize: true };
    // the slot gives the width; the height is the figure's, set on the element: autosize
    // reads both from it (an element without a height read 0 after a resize, and collapsed)
    gd.style.height = `${layout.height || 440}px`;
    delete layout.width; // the slot decides the width, never a fixed one
    await Plotly.react(gd, fig.data || [], layout, {
      responsive: true,
      displaylogo: false,
    });
    // what the browser test waits for: the revision drawn, and when
    gd.dataset.revision = String(model.get("revision"));
    window.mtaChartDrawnAt = performance.now();
  };
  await draw();
  model.on("change:revision", draw);
  // a slot that changes size (window, grid reflow, Voila's first layout) redraws to fit
  const resize = new ResizeObserver(() => {
    if (gd.offsetWidth > 0) Plotly.Plots.resize(gd);
  });
  resize.observe(el);
  return () => {
    resize.disconnect();
    Plotly.purge(gd);
  };
}
export default { render };
