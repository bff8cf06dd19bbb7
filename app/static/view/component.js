// What every view does with Streamlit and the page around it: mount on the component's
// parent element, and copy a link to the clipboard.

// Streamlit calls a component's mount again with the same parent whenever its data changes:
// the view lives on a root element inside the parent (`root.__cx`) and loads the new data.
export function mountView(ViewClass, {data, parentElement, setStateValue},
                          {rootClass = "cx-root", testId = "cx-root"} = {}) {
  const payload = typeof data === "string" ? JSON.parse(data) : data;
  const selector = `:scope > .${rootClass.split(" ").pop()}`;
  let root = parentElement.querySelector(selector);
  if (!root) {
    root = document.createElement("div");
    root.className = rootClass;
    root.tabIndex = 0;
    root.setAttribute("data-testid", testId);
    parentElement.appendChild(root);
  }
  const view = root.__cx || new ViewClass(root);
  view.report = setStateValue || (() => {});
  view.load(payload);
  return view;
}

// Copy `text` to the clipboard; resolves to whether it worked.  The Clipboard API needs a
// secure context (https or localhost); a classroom server on plain http gets the old
// execCommand("copy") on a hidden text area instead.
export function copyText(text) {
  const fallback = () => {
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (err) {
      ok = false;
    }
    area.remove();
    return ok;
  };
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text).then(() => true, fallback);
  }
  return Promise.resolve(fallback());
}
