// Records every Content-Security-Policy violation on the page, for the strict
// CSP browser test. Loaded before the widget so none can slip past; violations
// inside the widget's shadow root bubble out as composed events.
window.heardViolations = [];
document.addEventListener('securitypolicyviolation', function (event) {
  window.heardViolations.push(
    event.effectiveDirective + ' blocked ' + (event.blockedURI || '(inline)') +
    ' at ' + (event.sourceFile || '?') + ':' + event.lineNumber
  );
}, true);
