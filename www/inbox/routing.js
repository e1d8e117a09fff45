// The routing page's script (/inbox/routing): every change an owner makes
// there goes through the owner-only JSON API (/api/v1/routing/…,
// /api/v1/notifications/webhooks…) with the CSRF token the page carries in
// <meta name="heard-csrf">. The API checks everything; its field errors are
// shown beside the form that was sent. Text is inserted with textContent
// only. After a change the page is loaded again, so what it shows is what
// is stored; a webhook's new secret is shown first, once.
(function () {
  'use strict';

  const csrfMeta = document.querySelector('meta[name="heard-csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : '';
  const NOTICE_KEY = 'heard-routing-notice';

  // Calls the API; answers {answer} or {error: {message, fields}}.
  async function call(method, path, body) {
    const options = {
      method: method,
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrf },
    };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (_) {
      return { error: { message: 'The collector cannot be reached. Try again.' } };
    }
    if (response.status === 401) {
      window.location.assign('/inbox/login?next=' + encodeURIComponent('/inbox/routing'));
      return { error: { message: 'Your session has ended. Sign in again.' } };
    }
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    if (!response.ok) {
      return { error: answer || { message: 'The request failed (' + response.status + ').' } };
    }
    return { answer: answer };
  }

  // Shows an error (or clears it) in the form's alert box.
  function showError(form, error) {
    const box = form ? form.querySelector('.alert') : null;
    if (!box) return;
    box.textContent = '';
    box.hidden = !error;
    if (!error) return;
    const heading = document.createElement('p');
    heading.textContent = error.message || 'That did not work.';
    box.appendChild(heading);
    const fields = error.fields || [];
    if (fields.length > 0) {
      const list = document.createElement('ul');
      fields.forEach(function (field) {
        const item = document.createElement('li');
        item.textContent = (field.field ? field.field + ': ' : '') + field.message;
        list.appendChild(item);
      });
      box.appendChild(list);
    }
  }

  // Reloads the page, which shows `notice` once.
  function reloadWith(notice) {
    try { window.sessionStorage.setItem(NOTICE_KEY, notice); } catch (_) { /* no notice */ }
    window.location.reload();
  }

  function showNotice() {
    let notice = null;
    try {
      notice = window.sessionStorage.getItem(NOTICE_KEY);
      window.sessionStorage.removeItem(NOTICE_KEY);
    } catch (_) { notice = null; }
    const place = document.getElementById('routing-notice');
    if (notice && place) {
      place.textContent = notice;
      place.hidden = false;
    }
  }

  // The JSON of a rule editor, or an error naming what cannot be read.
  function readRule(textarea) {
    try {
      return { rule: JSON.parse(textarea.value) };
    } catch (problem) {
      return { error: { message: 'The rule\'s JSON cannot be read.', fields: [{ field: '', message: String(problem.message) }] } };
    }
  }

  function savedIds() {
    return Array.prototype.map.call(document.querySelectorAll('#rules > li[data-rule]'), function (item) {
      return Number(item.dataset.rule);
    });
  }

  // --- rules ------------------------------------------------------------------

  async function moveRule(id, by) {
    const ids = savedIds();
    const at = ids.indexOf(id);
    const to = at + by;
    if (at < 0 || to < 0 || to >= ids.length) return;
    ids[at] = ids[to];
    ids[to] = id;
    const result = await call('POST', '/api/v1/routing/rules/order', { ids: ids });
    if (result.error) {
      showError(document.getElementById('rule-new'), result.error);
      return;
    }
    reloadWith('The rules are in their new order.');
  }

  async function deleteRule(id) {
    const item = document.getElementById('rule-' + id);
    const name = item ? item.querySelector('.rule-name').textContent : 'this rule';
    if (!window.confirm('Delete the rule “' + name + '”?')) return;
    const result = await call('DELETE', '/api/v1/routing/rules/' + encodeURIComponent(id));
    if (result.error) {
      showError(item ? item.querySelector('form') : null, result.error);
      if (item) item.querySelector('details').open = true;
      return;
    }
    reloadWith('The rule is deleted.');
  }

  async function saveRule(form) {
    const read = readRule(form.querySelector('textarea'));
    if (read.error) { showError(form, read.error); return; }
    const id = form.dataset.rule;
    const result = id
      ? await call('PUT', '/api/v1/routing/rules/' + encodeURIComponent(id), read.rule)
      : await call('POST', '/api/v1/routing/rules', read.rule);
    showError(form, result.error);
    if (!result.error) reloadWith(id ? 'The rule is saved.' : 'The rule is added.');
  }

  // The rules as the editors hold them: the saved ones in order (edited or
  // not), then the new one when something is written there.
  function editedRules(form) {
    const rules = [];
    const editors = Array.prototype.slice.call(document.querySelectorAll('#rules textarea[data-rule-json]'));
    const fresh = document.getElementById('rule-new-json');
    if (fresh && fresh.value.trim() !== '') editors.push(fresh);
    for (const editor of editors) {
      const read = readRule(editor);
      if (read.error) {
        const label = document.querySelector('label[for="' + editor.id + '"]');
        read.error.message = (label ? label.textContent : 'A rule') + ': ' + read.error.message;
        showError(form, read.error);
        return null;
      }
      rules.push(read.rule);
    }
    return rules;
  }

  async function testRules(form) {
    const rules = editedRules(form);
    if (rules === null) return;
    const data = new FormData(form);
    const complaint = {
      site: String(data.get('site') || ''),
      category: String(data.get('category') || '').trim(),
      language: String(data.get('language') || 'en').trim() || 'en',
      text: String(data.get('text') || ''),
      urgent: data.get('urgent') !== null,
      contact_given: data.get('contact_given') !== null,
    };
    if (data.get('value_orientation')) complaint.value_orientation = String(data.get('value_orientation'));
    if (data.get('outcomes')) complaint.outcomes = String(data.get('outcomes')).split(',');
    if (data.get('severity')) complaint.severity = String(data.get('severity'));
    if (data.get('mood')) complaint.mood = String(data.get('mood'));
    const result = await call('POST', '/api/v1/routing/rules/test', { complaint: complaint, rules: rules });
    showError(form, result.error);
    const place = document.getElementById('test-result');
    place.textContent = '';
    if (result.error) return;
    showDecision(place, result.answer);
  }

  // Fills the sample with what an existing complaint of the merchant holds.
  async function fillSample(form) {
    const reference = document.getElementById('sample-reference').value.trim();
    if (reference === '') {
      showError(form, { message: 'Write the reference of one of your complaints first.' });
      return;
    }
    const result = await call('GET', '/api/v1/inbox/complaints/' + encodeURIComponent(reference));
    if (result.error) {
      showError(form, result.error.error === 'not_found'
        ? { message: 'None of your complaints has the reference ' + reference + '.' }
        : result.error);
      return;
    }
    showError(form, null);
    const complaint = result.answer;
    const set = function (name, value) { form.elements[name].value = value === null || value === undefined ? '' : value; };
    set('site', complaint.site_key);
    set('category', complaint.category);
    set('severity', complaint.severity);
    set('mood', complaint.mood);
    set('language', complaint.language);
    set('value_orientation', complaint.value_orientation);
    set('outcomes', (complaint.outcomes || []).join(','));
    const answers = complaint.answers ? Object.keys(complaint.answers).map(function (key) { return complaint.answers[key]; }) : [];
    set('text', [complaint.description, complaint.remedy].concat(answers).filter(Boolean).join('\n'));
    form.elements.urgent.checked = Boolean(complaint.urgent);
    form.elements.contact_given.checked = Boolean(complaint.contact);
    document.getElementById('test-result').textContent = '';
  }

  function teamName(id) {
    const team = document.querySelector('#teams > li[data-team="' + Number(id) + '"]');
    return team ? 'team ' + team.dataset.teamName : 'team ' + id;
  }

  function userName(id) {
    const option = document.querySelector('select[name="user"] option[value="' + Number(id) + '"]');
    const member = document.querySelector('li[data-member="' + Number(id) + '"]');
    if (option) return option.textContent;
    if (member) return member.firstChild.textContent.trim();
    return 'staff member ' + id;
  }

  function recipientName(recipient) {
    if (recipient.kind === 'owners') return 'the owners';
    if (recipient.kind === 'assignee') return 'the assignee';
    if (recipient.kind === 'user') return userName(recipient.user_id);
    return teamName(recipient.team_id);
  }

  function showDecision(place, decision) {
    const heading = document.createElement('h3');
    heading.textContent = decision.matched.length === 0
      ? 'No rule matched.'
      : 'Matched: ' + decision.matched.map(function (rule) { return rule.name; }).join(', ');
    heading.id = 'test-matched';
    place.appendChild(heading);
    const list = document.createElement('ul');
    list.id = 'test-actions';
    const add = function (text) {
      const item = document.createElement('li');
      item.textContent = text;
      list.appendChild(item);
    };
    const target = decision.target;
    if (target.kind === 'team') add('Assigned to ' + teamName(target.team_id));
    else if (target.kind === 'user') add('Assigned to ' + userName(target.user_id));
    else add('Assigned to the default team');
    if (decision.priority) add('Priority: ' + decision.priority);
    if (decision.tags.length > 0) add('Tags: ' + decision.tags.join(', '));
    if (decision.notify.length > 0) add('Emailed: ' + decision.notify.map(recipientName).join(', '));
    if (decision.webhooks.length > 0) add('Webhooks called: ' + decision.webhooks.join(', '));
    if (decision.escalate) add('Escalated');
    if (decision.safety) add('A safety complaint: urgent, and the owners are told');
    place.appendChild(list);
  }

  // --- teams --------------------------------------------------------------------

  async function createTeam(form) {
    const data = new FormData(form);
    const result = await call('POST', '/api/v1/routing/teams', {
      name: String(data.get('name') || ''),
      strategy: String(data.get('strategy') || 'round_robin'),
      is_default: data.get('is_default') !== null,
    });
    showError(form, result.error);
    if (!result.error) reloadWith('The team “' + result.answer.name + '” is added (id ' + result.answer.id + ').');
  }

  async function renameTeam(form) {
    const data = new FormData(form);
    const result = await call('PUT', '/api/v1/routing/teams/' + encodeURIComponent(form.dataset.team), {
      name: String(data.get('name') || ''),
      strategy: form.dataset.strategy,
      is_default: form.dataset.default === 'true',
    });
    showError(form, result.error);
    if (!result.error) reloadWith('The team is renamed.');
  }

  async function deleteTeam(button) {
    const form = button.closest('form');
    if (!window.confirm('Delete this team?')) return;
    const result = await call('DELETE', '/api/v1/routing/teams/' + encodeURIComponent(button.dataset.team));
    showError(form, result.error);
    if (!result.error) reloadWith('The team is deleted.');
  }

  async function putMember(form) {
    const data = new FormData(form);
    const path = '/api/v1/routing/teams/' + encodeURIComponent(form.dataset.team) +
      '/members/' + encodeURIComponent(String(data.get('user') || ''));
    const result = await call('PUT', path, { is_lead: data.get('is_lead') !== null });
    showError(form, result.error);
    if (!result.error) reloadWith('The member is added.');
  }

  async function memberButton(button) {
    const path = '/api/v1/routing/teams/' + encodeURIComponent(button.dataset.team) +
      '/members/' + encodeURIComponent(button.dataset.user);
    const result = button.dataset.action === 'member-remove'
      ? await call('DELETE', path)
      : await call('PUT', path, { is_lead: button.dataset.lead === 'true' });
    if (result.error) {
      const form = button.closest('li.team').querySelector('form');
      showError(form, result.error);
      return;
    }
    reloadWith(button.dataset.action === 'member-remove' ? 'The member is removed.' : 'The team is changed.');
  }

  // --- webhooks -----------------------------------------------------------------

  function showSecret(webhook, what) {
    const place = document.getElementById('webhook-secret');
    place.textContent = '';
    const text = document.createElement('p');
    text.textContent = what + ' Copy the signing secret of “' + webhook.name +
      '” now: it is not shown again.';
    const code = document.createElement('code');
    code.id = 'webhook-secret-value';
    code.textContent = webhook.secret;
    const done = document.createElement('button');
    done.type = 'button';
    done.dataset.action = 'webhook-secret-done';
    done.textContent = 'I have copied it';
    place.appendChild(text);
    place.appendChild(code);
    place.appendChild(done);
    place.hidden = false;
    done.focus();
  }

  async function createWebhook(form) {
    const data = new FormData(form);
    const result = await call('POST', '/api/v1/notifications/webhooks', {
      name: String(data.get('name') || ''),
      url: String(data.get('url') || '').trim(),
      format: String(data.get('format') || 'standard'),
      allow_private: data.get('allow_private') !== null,
    });
    showError(form, result.error);
    if (!result.error) {
      form.reset();
      showSecret(result.answer, 'The endpoint is added (id ' + result.answer.id + ').');
    }
  }

  async function webhookButton(button) {
    const id = encodeURIComponent(button.dataset.webhook);
    const form = document.getElementById('webhook-new');
    if (button.dataset.action === 'webhook-delete') {
      if (!window.confirm('Delete this webhook endpoint?')) return;
      const result = await call('DELETE', '/api/v1/notifications/webhooks/' + id);
      showError(form, result.error);
      if (!result.error) reloadWith('The endpoint is deleted.');
      return;
    }
    const result = await call('POST', '/api/v1/notifications/webhooks/' + id + '/rotate');
    showError(form, result.error);
    if (!result.error) {
      showSecret(result.answer, 'The secret is rotated; the previous one keeps signing for a day.');
    }
  }

  // --- wiring -------------------------------------------------------------------

  const forms = {
    'rule-save': saveRule,
    'rule-create': saveRule,
    'rule-test': testRules,
    'team-create': createTeam,
    'team-rename': renameTeam,
    'member-add': putMember,
    'webhook-create': createWebhook,
  };

  document.addEventListener('submit', function (event) {
    const form = event.target;
    const handler = form && form.dataset ? forms[form.dataset.action] : null;
    if (!handler) return;
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    handler(form).finally(function () { if (button) button.disabled = false; });
  });

  document.addEventListener('click', function (event) {
    const button = event.target.closest ? event.target.closest('button[data-action]') : null;
    if (!button) return;
    const action = button.dataset.action;
    let work = null;
    if (action === 'rule-up') work = moveRule(Number(button.dataset.rule), -1);
    else if (action === 'rule-down') work = moveRule(Number(button.dataset.rule), 1);
    else if (action === 'rule-delete') work = deleteRule(Number(button.dataset.rule));
    else if (action === 'sample-fill') work = fillSample(button.form);
    else if (action === 'team-delete') work = deleteTeam(button);
    else if (action === 'member-remove' || action === 'member-lead') work = memberButton(button);
    else if (action === 'webhook-rotate' || action === 'webhook-delete') work = webhookButton(button);
    else if (action === 'webhook-secret-done') { reloadWith('The webhook endpoints are up to date.'); return; }
    if (!work) return;
    event.preventDefault();
    button.disabled = true;
    work.finally(function () { button.disabled = false; });
  });

  showNotice();
})();
