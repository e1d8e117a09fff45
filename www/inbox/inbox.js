// The staff inbox's one script. The pages are rendered (and escaped) by the
// collector; this file only
//   - performs actions through the inbox's JSON API, with the CSRF token the
//     page carries in <meta name="heard-csrf">, then re-reads the page and
//     swaps in the part that changed;
//   - keeps the list live with server-sent events (/api/v1/inbox/events);
//   - adds keyboard shortcuts (j/k, Enter, a, r, e, x, /, ?);
//   - runs bulk actions on the complaints ticked in the list, saves and
//     removes views, inserts canned replies and lets owners write them.
// It never builds markup from strings: text goes in with textContent, and
// the only markup it inserts is what the collector rendered for this page.
(function () {
  'use strict';

  const page = document.body.dataset.page;
  const csrfMeta = document.querySelector('meta[name="heard-csrf"]');
  const userMeta = document.querySelector('meta[name="heard-user"]');
  const csrf = csrfMeta ? csrfMeta.content : '';
  const me = userMeta ? Number(userMeta.content) : null;

  function announce(text) {
    const announcer = document.getElementById('announcer');
    if (!announcer) return;
    // Clearing first makes screen readers repeat an identical message.
    announcer.textContent = '';
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function toSignIn() {
    const here = window.location.pathname + window.location.search;
    window.location.assign('/inbox/login?next=' + encodeURIComponent(here));
  }

  // Calls the JSON API; resolves with the parsed answer or rejects with an
  // Error whose message is the collector's own explanation.
  async function api(method, path, body) {
    const headers = { 'X-CSRF-Token': csrf };
    const init = { method: method, headers: headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      toSignIn();
      throw new Error('Your session has ended. Sign in again.');
    }
    const text = await response.text();
    let answer = null;
    try { answer = text ? JSON.parse(text) : null; } catch (_) { answer = null; }
    if (!response.ok) {
      let message = (answer && answer.message) || ('The request failed (' + response.status + ').');
      if (answer && Array.isArray(answer.fields) && answer.fields.length > 0) {
        message += ' ' + answer.fields.map(function (field) { return field.message; }).join(' ');
      }
      throw new Error(message);
    }
    return answer;
  }

  function complaintPath(reference) {
    return '/api/v1/inbox/complaints/' + encodeURIComponent(reference);
  }

  // Re-reads this page and swaps in the elements with the given ids.
  async function refresh(ids) {
    const response = await fetch(window.location.href, { credentials: 'same-origin' });
    if (response.redirected && response.url.indexOf('/inbox/login') !== -1) {
      toSignIn();
      return;
    }
    const html = await response.text();
    const fresh = new DOMParser().parseFromString(html, 'text/html');
    ids.forEach(function (id) {
      const current = document.getElementById(id);
      const replacement = fresh.getElementById(id);
      if (current && replacement) {
        current.replaceWith(document.adoptNode(replacement));
      }
    });
  }

  function typing(target) {
    if (!target || !target.closest) return false;
    // A ticked box takes no text: shortcuts keep working from it.
    if (target.matches('input[type=checkbox]')) return false;
    return Boolean(target.closest('input, textarea, select, [contenteditable]:not([contenteditable="false"])'));
  }

  // --- shared: sign-out and the help dialog -------------------------------

  document.addEventListener('click', function (event) {
    const button = event.target.closest ? event.target.closest('button[data-action]') : null;
    if (!button) return;
    const action = button.dataset.action;
    if (action === 'sign-out') {
      event.preventDefault();
      api('POST', '/api/v1/auth/logout').then(
        function () { window.location.assign('/inbox/login'); },
        function (error) { announce(error.message); });
    } else if (action === 'help') {
      event.preventDefault();
      showHelp();
    }
  });

  function showHelp() {
    const dialog = document.getElementById('shortcuts');
    if (dialog && !dialog.open) dialog.showModal();
  }

  // --- the list -------------------------------------------------------------

  function listRows() {
    return Array.prototype.slice.call(document.querySelectorAll('#rows tr[data-reference]'));
  }

  let selected = null;

  function select(row) {
    listRows().forEach(function (other) { other.classList.remove('selected'); });
    if (!row) { selected = null; return; }
    selected = row.dataset.reference;
    row.classList.add('selected');
    const link = row.querySelector('a.open');
    if (link) link.focus();
  }

  function selectedRow() {
    const rows = listRows();
    const focused = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest('#rows tr[data-reference]') : null;
    if (focused) return focused;
    return rows.find(function (row) { return row.dataset.reference === selected; }) || null;
  }

  function move(step) {
    const rows = listRows();
    if (rows.length === 0) return;
    const current = rows.indexOf(selectedRow());
    const next = current === -1 ? (step > 0 ? 0 : rows.length - 1)
      : Math.min(rows.length - 1, Math.max(0, current + step));
    select(rows[next]);
  }

  async function refreshList(arrived) {
    const before = new Set(listRows().map(function (row) { return row.dataset.reference; }));
    const ticked = new Set(picked());
    await refresh(['rows', 'counts']);
    listRows().forEach(function (row) {
      if (!before.has(row.dataset.reference)) row.classList.add('fresh');
      if (row.dataset.reference === selected) row.classList.add('selected');
      const box = row.querySelector('input.pick');
      if (box && ticked.has(row.dataset.reference)) box.checked = true;
    });
    showPicked();
    if (arrived) {
      const shown = listRows().filter(function (row) { return arrived.indexOf(row.dataset.reference) !== -1; });
      if (shown.length > 0) {
        announce(shown.length === 1
          ? 'New complaint ' + shown[0].dataset.reference + ' at the top of the list.'
          : shown.length + ' new complaints in the list.');
      }
    }
  }

  async function actOnRow(row, path, body, done) {
    if (!row) { announce('Select a complaint first: press j or k.'); return; }
    const reference = row.dataset.reference;
    try {
      await api('POST', complaintPath(reference) + path, body);
      await refreshList();
      announce(done + ' ' + reference + '.');
    } catch (error) {
      announce(error.message);
    }
  }

  // --- bulk actions on the ticked rows -------------------------------------------

  function picks() {
    return Array.prototype.slice.call(document.querySelectorAll('#rows input.pick'));
  }

  function picked() {
    return picks().filter(function (box) { return box.checked; })
      .map(function (box) { return box.value; });
  }

  // Shows how many are ticked, and marks their rows.
  function showPicked() {
    const count = document.getElementById('bulk-count');
    if (!count) return;
    const boxes = picks();
    const ticked = picked().length;
    count.textContent = ticked === 0 ? 'No complaint selected.'
      : (ticked === 1 ? '1 complaint selected.' : ticked + ' complaints selected.');
    const all = document.getElementById('pick-all');
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    boxes.forEach(function (box) {
      const row = box.closest('tr');
      if (row) row.classList.toggle('picked', box.checked);
    });
  }

  function togglePick(row) {
    if (!row) { announce('Select a complaint first: press j or k.'); return; }
    const box = row.querySelector('input.pick');
    if (!box) return;
    box.checked = !box.checked;
    showPicked();
    announce((box.checked ? 'Selected ' : 'Unselected ') + row.dataset.reference + '. '
      + document.getElementById('bulk-count').textContent);
  }

  function bulkBody(form, action) {
    const data = new FormData(form);
    const body = { action: action, references: picked() };
    if (action === 'assign') {
      const value = data.get('user_id');
      body.user_id = value ? Number(value) : null;
    } else if (action === 'set_status') {
      body.status = data.get('status');
    } else if (action === 'add_tag') {
      body.tag = String(data.get('tag') || '').trim();
    }
    return body;
  }

  function startBulk() {
    const form = document.getElementById('bulk');
    if (!form) return;
    document.addEventListener('change', function (event) {
      if (event.target.id === 'pick-all') {
        const on = event.target.checked;
        picks().forEach(function (box) { box.checked = on; });
        showPicked();
      } else if (event.target.matches('#rows input.pick')) {
        showPicked();
      }
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      // Enter in the tag field submits with the form's first button
      // (Assign); the field says what was meant.
      const action = document.activeElement === document.getElementById('bulk-tag')
        ? 'add_tag'
        : (event.submitter ? event.submitter.value : '');
      const body = bulkBody(form, action);
      if (body.references.length === 0) {
        formError(form, 'Select at least one complaint first: tick its box, or press x on it.');
        return;
      }
      submitted(form, async function () {
        const answer = await api('POST', '/api/v1/inbox/bulk', body);
        picks().forEach(function (box) { box.checked = false; });
        await refreshList();
        announce(answer.changed === 1 ? '1 complaint changed.' : answer.changed + ' complaints changed.');
      });
    });
    showPicked();
  }

  // --- saved views -------------------------------------------------------------

  function startViews() {
    document.addEventListener('submit', function (event) {
      const form = event.target.closest('form[data-action="save-view"]');
      if (!form) return;
      event.preventDefault();
      submitted(form, async function (data) {
        const view = await api('POST', '/api/v1/inbox/views', {
          name: String(data.get('name') || ''),
          query: form.dataset.query,
          shared: data.get('shared') === '1',
        });
        await refresh(['views']);
        announce('The view ' + view.name + ' is saved.');
      });
    });
    document.addEventListener('click', function (event) {
      const button = event.target.closest ? event.target.closest('button[data-action="delete-view"]') : null;
      if (!button) return;
      api('DELETE', '/api/v1/inbox/views/' + encodeURIComponent(button.dataset.view)).then(
        function () { return refresh(['views']).then(function () { announce('The view is removed.'); }); },
        function (error) { announce(error.message); });
    });
  }

  function startList() {
    startBulk();
    startViews();
    const firstPage = new URLSearchParams(window.location.search).get('cursor') === null;
    const news = document.getElementById('live-news');
    const count = document.getElementById('live-count');
    let waiting = [];

    if (news) {
      news.addEventListener('click', function (event) {
        if (!event.target.closest('button[data-action="show-new"]')) return;
        const params = new URLSearchParams(window.location.search);
        params.delete('cursor');
        const query = params.toString();
        window.location.assign('/inbox' + (query ? '?' + query : ''));
      });
    }

    if (!window.EventSource) return;
    const events = new EventSource('/api/v1/inbox/events');
    // `data-live` says whether the list is being kept up to date (styles and
    // tests read it); the browser reconnects by itself after an error.
    events.addEventListener('open', function () { document.body.dataset.live = 'on'; });
    events.addEventListener('error', function () { document.body.dataset.live = 'off'; });
    events.addEventListener('complaint', function (message) {
      let reference = null;
      try { reference = JSON.parse(message.data).reference; } catch (_) { return; }
      if (typeof reference !== 'string') return;
      if (firstPage) {
        refreshList([reference]).catch(function () { /* the next event retries */ });
      } else {
        waiting.push(reference);
        count.textContent = waiting.length === 1
          ? '1 new complaint has arrived.'
          : waiting.length + ' new complaints have arrived.';
        news.hidden = false;
        announce(count.textContent);
      }
    });
    events.addEventListener('resync', function () {
      if (firstPage) refreshList().catch(function () {});
    });
    window.addEventListener('pagehide', function () { events.close(); });
  }

  function listKeys(event) {
    switch (event.key) {
      case 'j': move(1); return true;
      case 'k': move(-1); return true;
      case 'x':
        if (!document.getElementById('bulk')) return false;
        togglePick(selectedRow());
        return true;
      case 'Enter': {
        const row = selectedRow();
        if (!row || document.activeElement === row.querySelector('a.open')) return false;
        window.location.assign(row.querySelector('a.open').href);
        return true;
      }
      case 'a':
        actOnRow(selectedRow(), '/assign', { user_id: me }, 'Assigned to you:');
        return true;
      case 'e':
        actOnRow(selectedRow(), '/status', { status: 'resolved' }, 'Resolved:');
        return true;
      case 'r': {
        const row = selectedRow();
        if (!row) return false;
        window.location.assign(row.querySelector('a.open').href + '#reply');
        return true;
      }
      case '/': {
        const search = document.getElementById('q');
        if (search) { search.focus(); search.select(); }
        return true;
      }
      default: return false;
    }
  }

  // --- one complaint ----------------------------------------------------------

  function reference() {
    const article = document.getElementById('complaint');
    return article ? article.dataset.reference : null;
  }

  function showError(message) {
    let box = document.getElementById('action-error');
    const actions = document.querySelector('.actions');
    if (!box && actions) {
      box = document.createElement('div');
      box.id = 'action-error';
      box.className = 'alert';
      box.setAttribute('role', 'alert');
      actions.insertBefore(box, actions.children[1] || null);
    }
    if (box) box.textContent = message;
  }

  async function perform(path, body, done, focusId) {
    const ref = reference();
    if (!ref) return;
    try {
      await api('POST', complaintPath(ref) + path, body);
      await refresh(['complaint']);
      announce(done);
      const target = focusId && document.getElementById(focusId);
      (target || document.querySelector('#complaint h1')).focus();
    } catch (error) {
      showError(error.message);
    }
  }

  function startComplaint() {
    document.addEventListener('submit', function (event) {
      const form = event.target.closest('form[data-action]');
      if (!form) return;
      event.preventDefault();
      const data = new FormData(form);
      switch (form.dataset.action) {
        case 'assign': {
          const value = data.get('user_id');
          perform('/assign', { user_id: value ? Number(value) : null }, 'The assignment is saved.', 'assign-to');
          break;
        }
        case 'status':
          perform('/status', { status: data.get('status') }, 'The status is changed.', 'set-status');
          break;
        case 'tags': {
          const add = String(data.get('add') || '').split(',')
            .map(function (tag) { return tag.trim(); })
            .filter(function (tag) { return tag.length > 0; });
          if (add.length > 0) perform('/tags', { add: add, remove: [] }, 'Tags added.', 'add-tags');
          break;
        }
        case 'note':
          perform('/notes', { body: String(data.get('body') || '') }, 'The internal note is saved.', 'note-body');
          break;
        case 'reply':
          perform('/replies', { body: String(data.get('body') || '') }, 'The reply is sent to the shopper.', 'reply-body');
          break;
        case 'link':
          perform('/links', { with: String(data.get('with') || '').trim() }, 'The complaints are linked.', 'link-with');
          break;
        case 'merge':
          perform('/merge', { into: String(data.get('into') || '').trim() }, 'Merged as a duplicate and closed.');
          break;
        default:
          break;
      }
    });

    document.addEventListener('click', function (event) {
      const button = event.target.closest ? event.target.closest('#complaint button[data-action]') : null;
      if (!button) return;
      switch (button.dataset.action) {
        case 'acknowledge':
          perform('/acknowledge', undefined, 'Acknowledged.');
          break;
        case 'assign-me':
          perform('/assign', { user_id: me }, 'Assigned to you.');
          break;
        case 'resolve':
          perform('/status', { status: 'resolved' }, 'Marked resolved.');
          break;
        case 'remove-tag':
          perform('/tags', { add: [], remove: [button.dataset.tag] }, 'Tag removed.', 'add-tags');
          break;
        case 'insert-canned':
          insertCanned();
          break;
        case 'unlink':
          perform('/links', { with: button.dataset.with, linked: false }, 'The link is removed.', 'link-with');
          break;
        case 'restore-spam':
          perform('/restore', undefined, 'Not spam: restored to the inbox.');
          break;
        case 'mark-spam':
          perform('/spam', undefined, 'Moved to the spam folder.');
          break;
        default:
          break;
      }
    });

    if (window.location.hash === '#reply') {
      const reply = document.getElementById('reply-body');
      if (reply) reply.focus();
    }
  }

  // Puts the chosen canned reply into the reply box at the cursor, as text,
  // for the agent to adapt before sending.
  function insertCanned() {
    const picker = document.getElementById('canned-pick');
    const reply = document.getElementById('reply-body');
    if (!picker || !reply) return;
    const option = picker.selectedOptions[0];
    if (!option || !option.value) {
      announce('Choose a canned reply first.');
      picker.focus();
      return;
    }
    reply.focus();
    reply.setRangeText(option.dataset.body, reply.selectionStart, reply.selectionEnd, 'end');
    announce('Inserted ' + option.textContent + ' into the reply.');
  }

  function moveInTimeline(step) {
    const events = Array.prototype.slice.call(document.querySelectorAll('#timeline .event'));
    if (events.length === 0) return;
    const current = events.findIndex(function (item) { return item.classList.contains('selected'); });
    const next = current === -1 ? (step > 0 ? 0 : events.length - 1)
      : Math.min(events.length - 1, Math.max(0, current + step));
    events.forEach(function (item) { item.classList.remove('selected'); });
    events[next].classList.add('selected');
    events[next].focus();
  }

  function complaintKeys(event) {
    switch (event.key) {
      case 'j': moveInTimeline(1); return true;
      case 'k': moveInTimeline(-1); return true;
      case 'a':
        perform('/assign', { user_id: me }, 'Assigned to you.');
        return true;
      case 'e':
        perform('/status', { status: 'resolved' }, 'Marked resolved.');
        return true;
      case 'r': {
        const reply = document.getElementById('reply-body');
        if (!reply) return false;
        reply.focus();
        return true;
      }
      default: return false;
    }
  }

  // --- staff, account, joining ---------------------------------------------------

  // Shows `message` in an alert just before `form`, replacing an earlier one.
  function formError(form, message) {
    let box = form.previousElementSibling;
    if (!box || !box.classList.contains('form-error')) {
      box = document.createElement('div');
      box.className = 'alert form-error';
      box.setAttribute('role', 'alert');
      form.parentNode.insertBefore(box, form);
    }
    box.textContent = message;
  }

  function clearError(form) {
    const box = form.previousElementSibling;
    if (box && box.classList.contains('form-error')) box.remove();
  }

  async function submitted(form, work) {
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      await work(new FormData(form));
      clearError(form);
    } catch (error) {
      formError(form, error.message);
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  }

  function startPeople() {
    document.addEventListener('submit', function (event) {
      const form = event.target.closest('form[data-action]');
      if (!form) return;
      const action = form.dataset.action;
      if (action === 'invite') {
        event.preventDefault();
        submitted(form, async function (data) {
          const email = String(data.get('email') || '');
          const answer = await api('POST', '/api/v1/staff/invites', { email: email, role: data.get('role') });
          document.getElementById('invite-for').textContent = answer.email;
          document.getElementById('invite-link').textContent =
            window.location.origin + '/inbox/join/' + encodeURIComponent(answer.token);
          document.getElementById('invite-result').hidden = false;
          form.reset();
          announce('Invitation link created for ' + answer.email + '.');
        });
      } else if (action === 'role') {
        event.preventDefault();
        submitted(form, async function (data) {
          await api('POST', '/api/v1/staff/' + encodeURIComponent(form.dataset.user) + '/role', { role: data.get('role') });
          await refresh(['people']);
          announce('The role is changed.');
        });
      } else if (action === 'password') {
        event.preventDefault();
        submitted(form, async function (data) {
          await api('POST', '/api/v1/auth/password', {
            current_password: String(data.get('current_password') || ''),
            new_password: String(data.get('new_password') || ''),
          });
          form.reset();
          announce('Your password is changed. Your other sessions have ended.');
        });
      } else if (action === 'join') {
        event.preventDefault();
        submitted(form, async function (data) {
          await api('POST', '/api/v1/staff/invites/' + encodeURIComponent(form.dataset.token) + '/accept', {
            display_name: String(data.get('display_name') || ''),
            password: String(data.get('password') || ''),
          });
          window.location.assign('/inbox/login');
        });
      }
    });
    document.addEventListener('click', function (event) {
      const button = event.target.closest ? event.target.closest('#people button[data-action=disable]') : null;
      if (!button) return;
      api('POST', '/api/v1/staff/' + encodeURIComponent(button.dataset.user) + '/disable').then(
        function () { return refresh(['people']).then(function () { announce('The account is disabled; its sessions have ended.'); }); },
        function (error) { announce(error.message); });
    });
  }

  // --- canned replies (owners) --------------------------------------------------------

  function startCanned() {
    document.addEventListener('submit', function (event) {
      const form = event.target.closest('form[data-action="save-canned"]');
      if (!form) return;
      event.preventDefault();
      submitted(form, async function (data) {
        const body = {
          language: String(data.get('language') || '').trim(),
          title: String(data.get('title') || ''),
          body: String(data.get('body') || ''),
        };
        const id = form.dataset.canned;
        const saved = id
          ? await api('PUT', '/api/v1/inbox/canned-replies/' + encodeURIComponent(id), body)
          : await api('POST', '/api/v1/inbox/canned-replies', body);
        if (!id) form.reset();
        await refresh(['canned']);
        announce('The canned reply ' + saved.title + ' is saved.');
      });
    });
    document.addEventListener('click', function (event) {
      const button = event.target.closest ? event.target.closest('button[data-action="delete-canned"]') : null;
      if (!button) return;
      api('DELETE', '/api/v1/inbox/canned-replies/' + encodeURIComponent(button.dataset.canned)).then(
        function () { return refresh(['canned']).then(function () { announce('The canned reply is removed.'); }); },
        function (error) { announce(error.message); });
    });
  }

  // --- site settings (owners) -------------------------------------------------------

  // Shows the API's field errors: each beside its field when the page has a
  // place for it (`data-field`, or the nearest parent path), all of them in
  // the form's alert box.
  function showFieldErrors(form, box, error) {
    form.querySelectorAll('.field-error').forEach(function (slot) { slot.textContent = ''; });
    box.textContent = '';
    box.hidden = true;
    if (!error) return;
    const fields = error.fields || [];
    const list = document.createElement('ul');
    fields.forEach(function (field) {
      const item = document.createElement('li');
      item.textContent = field.field + ': ' + field.message;
      list.appendChild(item);
      let path = field.field;
      let slot = null;
      while (path && !slot) {
        slot = form.querySelector('.field-error[data-field="' + CSS.escape(path) + '"]');
        const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
        path = cut > 0 ? path.slice(0, cut) : '';
      }
      if (slot) slot.textContent = (slot.textContent ? slot.textContent + ' ' : '') + field.field + ': ' + field.message;
    });
    const heading = document.createElement('p');
    heading.textContent = error.message || 'The settings were not saved.';
    box.appendChild(heading);
    if (fields.length > 0) box.appendChild(list);
    box.hidden = false;
  }

  function startSites() {
    document.addEventListener('click', function (event) {
      const button = event.target.closest ? event.target.closest('button[data-action="copy-snippet"]') : null;
      if (!button) return;
      const code = document.getElementById('embed-snippet');
      const text = code.textContent;
      const done = function () { announce('The embed snippet is copied.'); };
      const selectIt = function () {
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        announce('The snippet is selected: press Ctrl+C (or ⌘C) to copy it.');
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, selectIt);
      } else {
        selectIt();
      }
    });
    document.addEventListener('submit', async function (event) {
      const form = event.target.closest('form[data-action="site-settings"], form[data-action="targets"]');
      if (!form) return;
      event.preventDefault();
      const site = encodeURIComponent(form.dataset.site);
      if (form.dataset.action === 'site-settings') {
        const box = document.getElementById('settings-errors');
        const data = new FormData(form);
        let rest;
        try {
          rest = JSON.parse(String(data.get('config') || '{}'));
        } catch (problem) {
          showFieldErrors(form, box, { message: 'The JSON cannot be read.', fields: [{ field: 'config', message: String(problem.message) }] });
          return;
        }
        const config = Object.assign({}, rest, {
          site_key: form.dataset.site,
          name: String(data.get('name') || ''),
          languages: String(data.get('languages') || '').split(',')
            .map(function (tag) { return tag.trim(); })
            .filter(function (tag) { return tag.length > 0; }),
        });
        const origins = String(data.get('origins') || '').split('\n')
          .map(function (line) { return line.trim(); })
          .filter(function (line) { return line.length > 0; });
        const result = await settingsCall('PUT', '/api/v1/inbox/sites/' + site, { allowed_origins: origins, config: config });
        showFieldErrors(form, box, result.error);
        if (!result.error) announce('The settings are saved.');
      } else {
        const box = document.getElementById('targets-errors');
        const targets = Array.prototype.map.call(form.querySelectorAll('tr[data-class]'), function (row) {
          const first = Number(row.querySelector('input[name$=".first"]').value);
          const resolution = Number(row.querySelector('input[name$=".resolution"]').value);
          return {
            class: row.dataset.class,
            first_response_hours: first,
            resolution_hours: resolution,
            default: first === Number(row.dataset.defaultFirst) && resolution === Number(row.dataset.defaultResolution),
          };
        });
        const result = await settingsCall('PUT', '/api/v1/inbox/sites/' + site + '/response-targets', { targets: targets });
        showFieldErrors(form, box, result.error);
        if (!result.error) {
          announce('The response targets are saved; ' + result.answer.recomputed + ' open complaints have new due dates.');
        }
      }
    });
  }

  // Calls the API and answers {answer} or {error: {message, fields}}.
  // The merchant's retention, on the sites list (empty: keep forever).
  document.addEventListener('submit', async function (event) {
    const form = event.target.closest ? event.target.closest('form[data-action="retention"]') : null;
    if (!form) return;
    event.preventDefault();
    const box = document.getElementById('retention-errors');
    const input = form.elements.retention_days;
    const text = String(input.value || '').trim();
    const days = text === '' ? null : Number(text);
    // An unreadable number must not read as "keep forever".
    if ((input.validity && input.validity.badInput) || (days !== null && !Number.isFinite(days))) {
      showFieldErrors(form, box, { message: 'Give the number of days as a whole number.', fields: [{ field: 'retention_days', message: 'Give the number of days as a whole number.' }] });
      return;
    }
    const result = await settingsCall('PUT', '/api/v1/retention', { retention_days: days });
    showFieldErrors(form, box, result.error);
    if (!result.error) {
      announce(days === null ? 'Complaints are kept forever.' : 'The retention is saved.');
    }
  });

  async function settingsCall(method, path, body) {
    const response = await fetch(path, {
      method: method,
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status === 401) { toSignIn(); return { error: { message: 'Your session has ended.' } }; }
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    if (!response.ok) {
      return { error: answer || { message: 'The request failed (' + response.status + ').' } };
    }
    return { answer: answer };
  }

  // --- keys -------------------------------------------------------------------

  document.addEventListener('keydown', function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    const dialog = document.getElementById('shortcuts');
    if (dialog && dialog.open) return;
    let handled = false;
    if (event.key === '?') {
      showHelp();
      handled = true;
    } else if (page === 'list') {
      handled = listKeys(event);
    } else if (page === 'complaint') {
      handled = complaintKeys(event);
    }
    if (handled) event.preventDefault();
  });

  if (page === 'list') startList();
  if (page === 'complaint') startComplaint();
  if (page === 'canned') startCanned();
  if (page === 'sites') startSites();
  if (page === 'staff' || page === 'account' || page === 'join') startPeople();
}());
