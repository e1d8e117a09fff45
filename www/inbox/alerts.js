// The alerts page's script (/inbox/alerts): the "Retry now" button of a
// notification that could not be delivered. It calls the notifications API
// (POST /api/v1/notifications/outbox/{id}/retry) with the CSRF token the
// page carries in <meta name="heard-csrf">, and reports the result with
// textContent only. Everything else on the page works without it.
(function () {
  'use strict';

  const csrfMeta = document.querySelector('meta[name="heard-csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : '';

  async function retry(id) {
    const response = await fetch(
      '/api/v1/notifications/outbox/' + encodeURIComponent(id) + '/retry',
      { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } });
    if (response.status === 401) {
      window.location.assign('/inbox/login?next=' + encodeURIComponent('/inbox/alerts'));
      throw new Error('Your session has ended. Sign in again.');
    }
    if (!response.ok) {
      let message = 'The retry failed (' + response.status + ').';
      try {
        const answer = await response.json();
        if (answer && answer.message) message = answer.message;
      } catch (_) { /* keep the general message */ }
      throw new Error(message);
    }
  }

  document.addEventListener('click', function (event) {
    const button = event.target.closest
      ? event.target.closest('button[data-action="retry-notification"]')
      : null;
    if (!button) return;
    event.preventDefault();
    const result = button.parentElement.querySelector('.retry-result');
    button.disabled = true;
    retry(button.dataset.notification).then(
      function () {
        if (result) result.textContent = 'Queued again: it will be sent shortly.';
      },
      function (error) {
        button.disabled = false;
        if (result) result.textContent = error.message;
      });
  });
})();
