// The dashboard's download helper (an anywidget): Python sends {filename, mime, b64}; the
// browser saves the bytes as a file. The widget itself is never seen.
function render({ model, el }) {
  el.style.display = "none";
  model.on("msg:custom", (msg) => {
    const bytes = Uint8Array.from(atob(msg.b64), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: msg.mime }));
    const a = document.createElement("a");
    a.href = url;
    a.download = msg.filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}
export default { render };
