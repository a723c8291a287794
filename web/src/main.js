// The shop page: sends a checkout when Buy is clicked and shows the answer
// with its trace id and a link to the trace in Grafana.

import './telemetry.js';

const form = document.getElementById('checkout');
const buy = document.getElementById('buy');
const result = document.getElementById('result');

/** Where Grafana is, as the gateway says (`GRAFANA_URL`). */
const grafana = document.querySelector('meta[name="grafana-url"]')?.content;

buy.addEventListener('click', () => {
  if (!form.reportValidity()) {
    return;
  }
  buy.disabled = true;
  // `fetch` is called here, in the click's own turn, so its span is the
  // click span's child whatever the context manager keeps across `await`.
  const answer = fetch('/checkout', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      // The same click never pays twice, even if the request is repeated.
      'idempotency-key': idempotencyKey(),
    },
    body: JSON.stringify(checkoutRequest(new FormData(form))),
  });
  show(answer).finally(() => {
    buy.disabled = false;
  });
});

function checkoutRequest(fields) {
  return {
    customer_id: fields.get('customer'),
    items: [{ sku: fields.get('sku'), quantity: Number(fields.get('quantity')) }],
    // The test cards of Stripe's test mode; the expiry and CVC are made up.
    card: { number: fields.get('card'), exp_month: 12, exp_year: 2030, cvc: '123' },
  };
}

/** 128 random bits as hex: `crypto.randomUUID` needs a secure context. */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

async function show(answer) {
  let response;
  try {
    response = await answer;
  } catch {
    render([['Error', 'The shop did not answer. Is the gateway running?', 'error']]);
    return;
  }
  const body = await response.json().catch(() => ({}));
  const traceId = traceIdOf(response.headers.get('traceresponse'));
  const rows = response.ok
    ? [
        ['Order', body.order_id, 'order-id'],
        ['Status', body.status],
        ['Total', formatCents(body.total_cents, body.currency)],
      ]
    : [
        ['Error', body.title ?? `${response.status} ${response.statusText}`, 'error'],
        ['Detail', body.detail],
      ];
  if (traceId) {
    rows.push(['Trace', traceId, 'trace-id']);
  }
  render(rows, traceId);
}

/** The trace id of a W3C `traceresponse` header: `00-<trace id>-<span id>-<flags>`. */
function traceIdOf(header) {
  const match = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(header ?? '');
  return match?.[1];
}

function formatCents(cents, currency) {
  if (typeof cents !== 'number') {
    return undefined;
  }
  return new Intl.NumberFormat('en', { style: 'currency', currency: currency ?? 'EUR' })
    .format(cents / 100);
}

/** The answer as a list of `[label, value, test id]`, and the trace link. */
function render(rows, traceId) {
  const list = document.createElement('dl');
  for (const [label, value, testId] of rows) {
    if (value === undefined || value === null) {
      continue;
    }
    const term = document.createElement('dt');
    term.textContent = label;
    const description = document.createElement('dd');
    description.textContent = String(value);
    if (testId) {
      description.dataset.testid = testId;
    }
    if (testId === 'error') {
      description.classList.add('error');
    }
    list.append(term, description);
  }
  const children = [list];
  if (traceId && grafana) {
    const link = document.createElement('a');
    link.href = traceLink(grafana, traceId);
    link.textContent = 'Open this trace in Grafana';
    link.dataset.testid = 'trace-link';
    link.target = '_blank';
    link.rel = 'noopener';
    const paragraph = document.createElement('p');
    paragraph.append(link);
    children.push(paragraph);
  }
  result.replaceChildren(...children);
}

/** Grafana Explore on the suite's Tempo data source, opened at one trace. */
function traceLink(grafanaUrl, traceId) {
  const panes = {
    trc: {
      datasource: 'tempo',
      queries: [
        {
          refId: 'A',
          datasource: { type: 'tempo', uid: 'tempo' },
          queryType: 'traceql',
          query: traceId,
        },
      ],
      range: { from: 'now-1h', to: 'now' },
    },
  };
  const base = grafanaUrl.replace(/\/+$/, '');
  return `${base}/explore?schemaVersion=1&panes=${encodeURIComponent(JSON.stringify(panes))}`;
}
