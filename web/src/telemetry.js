// Tracing in the page: imported first, so the instrumentations wrap
// `addEventListener` and `fetch` before the page uses them.
//
// - The click on Buy is a span (user interaction) and the root of the
//   checkout's trace; the `fetch` it starts is its CLIENT child and sends
//   `traceparent` (and `baggage`) to this origin only, so the gateway's
//   server span continues the same trace.
// - The document load joins the trace of the gateway's `GET /` span, read
//   from `<meta name="traceparent">`.
// - Spans go to the gateway, on this origin, which checks and forwards
//   them to the Collector: the page never talks to another origin.

import { ZoneContextManager } from '@opentelemetry/context-zone';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { DocumentLoadInstrumentation } from '@opentelemetry/instrumentation-document-load';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { UserInteractionInstrumentation } from '@opentelemetry/instrumentation-user-interaction';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';

/** The gateway's route for browser spans (see docs/storefront.md). */
const TRACES_URL = new URL('/otlp/v1/traces', window.location.origin).href;

const provider = new WebTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'storefront' }),
  spanProcessors: [
    // A page lives for seconds: export each second, and whatever is left
    // when the page is hidden (the processor flushes on `visibilitychange`).
    new BatchSpanProcessor(new OTLPTraceExporter({ url: TRACES_URL }), {
      scheduledDelayMillis: 1000,
    }),
  ],
});

provider.register({
  // Zone.js carries the click's context into the `fetch` it starts.
  contextManager: new ZoneContextManager(),
  propagator: new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  }),
});

registerInstrumentations({
  instrumentations: [
    new DocumentLoadInstrumentation(),
    new UserInteractionInstrumentation({ eventNames: ['click'] }),
    new FetchInstrumentation({
      // The stable HTTP semantic conventions (`http.request.method`,
      // `url.full`, ...), not the deprecated ones.
      semconvStabilityOptIn: 'http',
      // `traceparent` goes to this origin only: that is the default, and
      // said here so that nobody widens it by accident.
      propagateTraceHeaderCorsUrls: [],
      // The exporter's own requests are not traced.
      ignoreUrls: [TRACES_URL],
      clearTimingResources: true,
    }),
  ],
});
