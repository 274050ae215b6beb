// Server-sent events read with fetch(): a browser's EventSource cannot send an Authorization
// header, and with --admin-password the proxy's event stream needs one. Parses the
// text/event-stream format (event, id, data fields; comments; messages end at a blank line).
// Plain browser JavaScript, no library, no build step.
'use strict';

window.IhsEventStream = (function () {
  /** One message's block of lines → { event, id, data }; undefined when it has no data (retry:, comments). */
  function parse(block) {
    let event = 'message';
    let id;
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line[0] === ':') continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    return data.length === 0 ? undefined : { event, id, data: data.join('\n') };
  }

  /**
   * Read the stream at `url` until it ends. o: { headers, onOpen(), onMessage(message),
   * silenceMs }: a stream silent for silenceMs (the server sends a comment every 15 s) is
   * given up as dead. Resolves when the stream ends; rejects on a network error, or on an
   * HTTP error with err.status set.
   */
  async function read(url, o) {
    const abort = new AbortController();
    let watchdog;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => abort.abort(), o.silenceMs);
    };
    arm();
    try {
      const res = await fetch(url, { headers: o.headers, cache: 'no-store', signal: abort.signal });
      if (!res.ok || res.body === null) {
        const err = new Error(`HTTP ${res.status}`);
        err.status = res.status;
        throw err;
      }
      o.onOpen();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        arm();
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const message = parse(buffer.slice(0, end).replace(/\r/g, ''));
          buffer = buffer.slice(end + 2);
          if (message !== undefined) o.onMessage(message);
        }
      }
    } finally {
      clearTimeout(watchdog);
      abort.abort();
    }
  }

  return { read, parse };
})();
