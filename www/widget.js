// Heard loader (see the README): fetches nothing until used, stores nothing.
(() => {
  const W = window, D = document, s = D.currentScript, d = s?.dataset || {};
  const queued = W.Heard?.q || [], inline = d.inline;
  if (!d.site || W.Heard?.loaded) return;
  const base = new URL('.', s.src).href.slice(0, -1), dir = base + '/widget/';
  // Constructed sheets and style properties pass a strict CSP.
  const sheet = (css, made = new CSSStyleSheet()) => (made.replaceSync(css), made);
  // !important on :host beats the page's !important rules on div or *.
  const own = sheet(
    ':host{all:initial!important}:host([data-inline]){display:block!important}' +
    '.heard-launcher,.heard-load-error{position:fixed;right:16px;bottom:16px;z-index:2147483000;' +
    'margin:0;font:600 15px system-ui,sans-serif}' +
    '.heard-launcher{min-height:44px;padding:10px 18px;border:0;border-radius:22px;' +
    'background:var(--heard-accent,#1f5fbf);color:#fff;box-shadow:0 2px 10px #0006;cursor:pointer}' +
    '.heard-launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}' +
    ':host([data-position=left]) :is(.heard-launcher,.heard-load-error){left:16px;right:auto}' +
    '.heard-load-error{bottom:72px;padding:8px;background:#fff;color:#8c1d18}' +
    '.heard-load-error:empty{display:none}'
  );
  const make = (tag, props) => Object.assign(D.createElement(tag), props);
  const host = make('div');
  Object.assign(host.dataset, { heardHost: '', position: d.position || 'right' }, inline && { inline });
  const root = host.attachShadow({ mode: 'open' });
  const box = make('div'), problem = make('p', { className: 'heard-load-error', role: 'alert' });
  const launcher = !inline && make('button', {
    type: 'button', className: 'heard-launcher', textContent: d.label || 'Something wrong?',
    ariaHasPopup: 'dialog', ariaExpanded: false,
  });
  root.adoptedStyleSheets = [own];
  root.append(box, problem);
  if (launcher) {
    launcher.dataset.heard = 'launcher';
    launcher.style.background = d.color || '';
    root.append(launcher);
  }

  // Heard('on') listens on window: a throwing listener can't stop others.
  const emit = (name, detail) => W.dispatchEvent(new CustomEvent('heard:' + name, { detail }));
  // prefill/identify wait for the widget; they never load it.
  const held = [];
  let mounting, handle;
  // Mounts once: the handle, or nothing after saying why.
  const mounted = () => mounting || (mounting = Promise.all([
    import(dir + 'heard_widget.js')
      .then((glue) => glue.default({ module_or_path: dir + 'heard_widget_bg.wasm' }).then(() => glue)),
    fetch(dir + 'widget.css', { credentials: 'omit' })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status))),
  ]).then(([glue, css]) => {
    root.adoptedStyleSheets = [own, sheet(css)];
    handle = glue.mount(box, d.site, base, launcher || null, { inline: !!inline, on_event: emit });
    for (const [method, value] of held.splice(0)) handle[method]?.(value);
    problem.textContent = '';
    return handle;
  }).catch((e) => {
    mounting = null;
    console.error(e);
    problem.textContent = 'Could not load. Please try again.';
  }));
  const open = (category) => mounted().then((h) => h?.open(category));

  const api = (command, value, fn) => {
    if (command == 'open') open(value?.category);
    if (command == 'close') handle?.close();
    if (command == 'prefill' || command == 'identify') {
      handle ? handle[command](value) : held.push([command, value]);
    }
    if (command == 'on' && fn) W.addEventListener('heard:' + value, (e) => fn(e.detail));
  };
  api.loaded = true;
  W.Heard = api;

  if (launcher) {
    // Load as soon as the shopper reaches for it.
    launcher.onpointerenter = launcher.onfocus = mounted;
    launcher.onclick = () => (handle ? handle.toggle() : open());
  }

  const place = () => {
    (inline ? D.querySelector(inline) : D.body).append(host);
    // Inline forms load with the page, as does a complaint an earlier page
    // could not send (outbox.rs).
    try { if (inline || localStorage['heard.outbox.' + d.site]) mounted(); } catch {}
  };
  D.readyState == 'loading' ? D.addEventListener('DOMContentLoaded', place) : place();
  for (const args of queued) api(...args);
})();
