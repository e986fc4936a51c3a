/**
 * OpenTelemetry for kiln: one trace per build, from the CLI through the coordinator and NATS to the agent's steps.
 * Context crosses process boundaries as W3C trace-context maps (in SubmitBuildRequest.trace_context, Job.trace_context
 * and the job message's NATS headers). Spans are exported over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set;
 * otherwise the API's no-op tracer makes every span free.
 */
import { context, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";

const propagator = new W3CTraceContextPropagator();
const carrierSetter = { set: (c: Record<string, string>, k: string, v: string) => void (c[k] = v) };
const carrierGetter = {
  get: (c: Readonly<Record<string, string>>, k: string) => c[k],
  keys: (c: Readonly<Record<string, string>>) => Object.keys(c),
};

export function tracer(): Tracer {
  return trace.getTracer("kiln", "0.1.0");
}

/** The W3C trace context of `span`, as a plain map for protobuf maps and NATS headers. */
export function traceCarrier(span: Span): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(context.active(), span), carrier, carrierSetter);
  return carrier;
}

/** The context a carrier describes (the root context when it is empty), to parent spans on. */
export function contextFromCarrier(carrier: Readonly<Record<string, string>> | undefined): Context {
  return propagator.extract(context.active(), carrier ?? {}, carrierGetter);
}

export function childContext(span: Span): Context {
  return trace.setSpan(context.active(), span);
}

let installed: BasicTracerProvider | undefined;

/**
 * Installs a tracer provider for this process: the given processors (tests use an in-memory exporter), or OTLP/HTTP
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set, or nothing. Returns a shutdown that flushes pending spans.
 */
export function setupTelemetry(serviceName: string, processors?: SpanProcessor[]): () => Promise<void> {
  const chosen = processors ?? (process.env["OTEL_EXPORTER_OTLP_ENDPOINT"] ? [new BatchSpanProcessor(new OTLPTraceExporter())] : []);
  if (chosen.length === 0 || installed) return async () => undefined;
  installed = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: chosen,
  });
  trace.setGlobalTracerProvider(installed);
  const provider = installed;
  return async () => {
    await provider.shutdown();
    trace.disable();
    installed = undefined;
  };
}
