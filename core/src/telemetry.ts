/**
 * OpenTelemetry for kiln: one trace per build, from the CLI through the coordinator and NATS to the agent's steps.
 * Context crosses process boundaries as W3C trace-context maps (in SubmitBuildRequest.trace_context, Job.trace_context
 * and the job message's NATS headers). Spans are exported over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set;
 * otherwise the API's no-op tracer makes every span free, and the SDK is never even loaded (it costs ~0.4 s of start-up,
 * which every `kiln build` would pay).
 */
import { SpanStatusCode, context, propagation, trace, type Context, type Span, type SpanOptions, type Tracer } from "@opentelemetry/api";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";

const carrierSetter = { set: (c: Record<string, string>, k: string, v: string) => void (c[k] = v) };
const carrierGetter = {
  get: (c: Readonly<Record<string, string>>, k: string) => c[k],
  keys: (c: Readonly<Record<string, string>>) => Object.keys(c),
};

export function tracer(): Tracer {
  return trace.getTracer("kiln", "0.1.0");
}

/** The W3C trace context of `span`, as a plain map for protobuf maps and NATS headers ({} when tracing is off). */
export function traceCarrier(span: Span): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier, carrierSetter);
  return carrier;
}

/** The context a carrier describes (the root context when it is empty or tracing is off), to parent spans on. */
export function contextFromCarrier(carrier: Readonly<Record<string, string>> | undefined): Context {
  return propagation.extract(context.active(), carrier ?? {}, carrierGetter);
}

export function childContext(span: Span): Context {
  return trace.setSpan(context.active(), span);
}

let installed = false;

/**
 * Installs a tracer provider and the W3C propagator for this process: the given processors (tests use an in-memory
 * exporter), or OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, or nothing. Returns a shutdown that flushes spans.
 */
export async function setupTelemetry(serviceName: string, processors?: SpanProcessor[]): Promise<() => Promise<void>> {
  const wanted = processors !== undefined || Boolean(process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]);
  if (!wanted || installed) return async () => undefined;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { W3CTraceContextPropagator }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/core"),
    import("@opentelemetry/resources"),
  ]);
  let chosen = processors;
  if (chosen === undefined) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    chosen = [new BatchSpanProcessor(new OTLPTraceExporter())];
  }
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": serviceName }), spanProcessors: chosen });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  installed = true;
  return async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    installed = false;
  };
}

/**
 * Runs `fn` inside a new span parented on `parent`: the span records a thrown error, and always ends.
 */
export async function inSpan<T>(name: string, options: SpanOptions, parent: Context, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer().startSpan(name, options, parent);
  try {
    return await fn(span);
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}
