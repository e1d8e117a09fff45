/*
 * Heard loader. A merchant embeds it with one tag:
 *   <script src="https://COLLECTOR/widget.js" data-site="SITE_KEY" async></script>
 * It draws the launcher button inside a shadow root and loads nothing else
 * until the shopper reaches for it. No cookies, no storage.
 */
(() => {
  'use strict';
  const script = document.currentScript;
  const site = script && script.dataset.site;
  if (!site || document.querySelector('[data-heard-host]')) return;
  const base = new URL('.', script.src).href.replace(/\/$/, '');
  const widget = base + '/widget/';

  // Constructable stylesheets need no 'unsafe-inline' under a strict CSP.
  const sheet = (css) => {
    const made = new CSSStyleSheet();
    made.replaceSync(css);
    return made;
  };
  // Scoped by class: the widget's own buttons share this shadow root.
  const own = sheet(
    ':host{all:initial}' +
    '.heard-launcher{position:fixed;right:16px;bottom:16px;z-index:2147483000;min-height:44px;' +
    'padding:10px 18px;border:0;border-radius:22px;background:#1f5fbf;color:#fff;' +
    'font:600 15px/1.2 system-ui,sans-serif;box-shadow:0 2px 10px rgba(0,0,0,.3);cursor:pointer}' +
    '.heard-launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}' +
    '.heard-launcher[aria-busy]{cursor:progress}' +
    '.heard-launcher[aria-busy]::before{content:"";display:inline-block;width:.8em;height:.8em;' +
    'margin-right:.5em;border:2px solid;border-right-color:transparent;border-radius:50%;' +
    'vertical-align:-.1em;animation:heard-spin 1s linear infinite}' +
    '@keyframes heard-spin{to{transform:rotate(1turn)}}' +
    '@media (prefers-reduced-motion:reduce){.heard-launcher::before{animation:none!important}}' +
    '.heard-load-error{position:fixed;right:16px;bottom:72px;z-index:2147483000;max-width:280px;' +
    'margin:0;padding:10px 12px;border:2px solid #b3261e;border-radius:8px;background:#fff;' +
    'color:#8c1d18;font:14px/1.4 system-ui,sans-serif}.heard-load-error:empty{display:none}' +
    '@media print{.heard-launcher{display:none}}'
  );

  const host = document.createElement('div');
  host.setAttribute('data-heard-host', '');
  const root = host.attachShadow({ mode: 'open' });
  root.adoptedStyleSheets = [own];
  const container = document.createElement('div');
  const problem = document.createElement('p');
  problem.className = 'heard-load-error';
  problem.setAttribute('role', 'alert');
  const launcher = document.createElement('button');
  launcher.type = 'button';
  launcher.className = 'heard-launcher';
  launcher.textContent = script.dataset.label || 'Something wrong?';
  launcher.setAttribute('data-heard', 'launcher');
  launcher.setAttribute('aria-haspopup', 'dialog');
  launcher.setAttribute('aria-expanded', 'false');
  root.append(container, problem, launcher);

  let loading = null;
  let handle = null;
  const load = () => loading || (loading = Promise.all([
    import(widget + 'heard_widget.js').then(async (glue) => {
      await glue.default({ module_or_path: widget + 'heard_widget_bg.wasm' });
      return glue;
    }),
    fetch(widget + 'widget.css', { credentials: 'omit' }).then((response) => {
      if (!response.ok) throw new Error('widget.css: HTTP ' + response.status);
      return response.text();
    }),
  ]).catch((error) => {
    loading = null;
    throw error;
  }));

  // Start loading as soon as the shopper reaches for the button.
  const warm = () => load().catch(() => {});
  launcher.addEventListener('pointerenter', warm, { once: true });
  launcher.addEventListener('focus', warm, { once: true });

  launcher.addEventListener('click', async () => {
    if (handle) return handle.toggle();
    if (launcher.hasAttribute('aria-busy')) return;
    launcher.setAttribute('aria-busy', 'true');
    problem.textContent = '';
    try {
      const [glue, css] = await load();
      root.adoptedStyleSheets = [own, sheet(css)];
      handle = glue.mount(container, site, base, launcher);
      handle.open();
    } catch (error) {
      console.error('Heard widget failed to load:', error);
      problem.textContent = 'Sorry, the complaint form could not load. Please try again.';
    } finally {
      launcher.removeAttribute('aria-busy');
    }
  });

  if (document.body) document.body.append(host);
  else document.addEventListener('DOMContentLoaded', () => document.body.append(host));
})();
