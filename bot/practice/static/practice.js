// The practice phone's page script. Loaded after htmx (both deferred), before htmx reads its
// settings when the page is ready: no inline <style> and no eval, which the Content-Security-Policy
// forbids. The page polls for new texts with hx-get on #poller (see templates/practice/phone.html).
htmx.config.includeIndicatorStyles = false;
htmx.config.allowEval = false;
htmx.config.allowScriptTags = false;
htmx.config.historyEnabled = false;
