/**
 * A typed client for the Coordinator gRPC service. Failures come back as kiln's typed errors, rebuilt from the
 * `kiln-error-code` trailer (never from message text); an unreachable coordinator is an UnavailableError that says
 * where kiln looked.
 */
import * as grpc from "@grpc/grpc-js";
import { loadGrpcPackageDefinition } from "../../proto/src/mod.js";
import type {
  AgentInfo__Output,
  BuildStatus__Output,
  CoordinatorClient,
  JobEvent__Output,
  ListAgentsResponse__Output,
  ListBuildsResponse__Output,
  SubmitBuildRequest,
  SubmitBuildResponse__Output,
  ArtifactRecord__Output,
  DeleteArtifactsResponse__Output,
  FileChunk__Output,
  FileSource__Output,
  ListArtifactsResponse__Output,
} from "../../proto/src/mod.js";
import { ErrorCode, KilnError, UnavailableError, fromFailure } from "../../core/src/mod.js";

const ERROR_CODE_METADATA_KEY = "kiln-error-code";
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/**
 * The HTTP/2 receive window of the connection and of each stream, for download streams: 2 MiB instead of the 64 KiB
 * default, so a stream does not wait on a window update every 64 KiB when the machine is busy; it is also at most
 * what a slow reader buffers. (On an idle machine the default did as well; larger windows only raised the RSS.)
 */
const FLOW_CONTROL_WINDOW_BYTES = 2 * 1024 * 1024;
/** How long a first call waits for the coordinator to answer before calling it unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

const BROKEN_STREAM_CODES: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.CANCELLED,
  grpc.status.ABORTED,
  grpc.status.DEADLINE_EXCEEDED,
]);

function toKilnError(err: grpc.ServiceError, address: string): KilnError {
  const code = err.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  if (typeof code === "string" && code.length > 0) {
    return fromFailure({ code: code as ErrorCode, message: err.details, retryable: false });
  }
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
    return new UnavailableError(
      `cannot reach the kiln coordinator at ${address} (${err.details}). Start one with 'kiln coordinator', fix --coordinator / KILN_COORDINATOR, or unset them to use the embedded farm.`,
      { cause: err },
    );
  }
  return new KilnError(ErrorCode.Internal, err.details || err.message, { cause: err });
}

export class CoordinatorConnection {
  private readonly client: CoordinatorClient;

  constructor(readonly address: string) {
    const pkg = grpc.loadPackageDefinition(loadGrpcPackageDefinition()) as unknown as {
      kiln: { v1: { Coordinator: new (address: string, creds: grpc.ChannelCredentials, options: grpc.ClientOptions) => CoordinatorClient } };
    };
    this.client = new pkg.kiln.v1.Coordinator(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES,
    });
  }

  /** Calls a unary method by name; the generated client's overloads defeat inference, so types are explicit. */
  private unary<Res>(
    method:
      | "SubmitBuild"
      | "GetBuild"
      | "ListBuilds"
      | "CancelBuild"
      | "ListAgents"
      | "DrainAgent"
      | "ContinueBuild"
      | "ListArtifacts"
      | "GetArtifact"
      | "DeleteArtifacts"
      | "PruneArtifacts",
    req: object,
  ): Promise<Res> {
    type Untyped = (req: object, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;
    const fn = this.client[method] as unknown as Untyped;
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + 120_000);
      fn.call(this.client, req, { deadline }, (err, res) => {
        if (err) reject(toKilnError(err, this.address));
        else resolve(res as Res);
      });
    });
  }

  /** Resolves once the coordinator's channel is ready; an UnavailableError after CONNECT_TIMEOUT_MS. */
  async ready(timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.client.waitForReady(Date.now() + timeoutMs, (err) =>
        err
          ? reject(
              new UnavailableError(
                `cannot reach the kiln coordinator at ${this.address}. Start one with 'kiln coordinator', fix --coordinator / KILN_COORDINATOR, or unset them to use the embedded farm.`,
                { cause: err },
              ),
            )
          : resolve(),
      ),
    );
  }

  async submit(req: SubmitBuildRequest): Promise<BuildStatus__Output> {
    const res = await this.unary<SubmitBuildResponse__Output>("SubmitBuild", req);
    if (!res.build) throw new KilnError(ErrorCode.Internal, "coordinator returned no build");
    return res.build;
  }

  getBuild(buildId: string): Promise<BuildStatus__Output> {
    return this.unary<BuildStatus__Output>("GetBuild", { build_id: buildId });
  }

  async listBuilds(limit = 0): Promise<BuildStatus__Output[]> {
    return (await this.unary<ListBuildsResponse__Output>("ListBuilds", { limit })).builds;
  }

  cancel(buildId: string): Promise<BuildStatus__Output> {
    return this.unary<BuildStatus__Output>("CancelBuild", { build_id: buildId });
  }

  continueBuild(buildId: string): Promise<BuildStatus__Output> {
    return this.unary<BuildStatus__Output>("ContinueBuild", { build_id: buildId });
  }

  drainAgent(name: string): Promise<AgentInfo__Output> {
    return this.unary<AgentInfo__Output>("DrainAgent", { name });
  }

  async listAgents(): Promise<AgentInfo__Output[]> {
    return (await this.unary<ListAgentsResponse__Output>("ListAgents", {})).agents;
  }

  /** Catalog records of one build, or of every build when `buildId` is "". */
  async listArtifacts(buildId = "", labels: Readonly<Record<string, string>> = {}): Promise<ArtifactRecord__Output[]> {
    return (await this.unary<ListArtifactsResponse__Output>("ListArtifacts", { build_id: buildId, labels })).artifacts;
  }

  /** One record by id or unambiguous id prefix. */
  getArtifact(id: string): Promise<ArtifactRecord__Output> {
    return this.unary<ArtifactRecord__Output>("GetArtifact", { id });
  }

  async deleteArtifacts(ids: readonly string[]): Promise<ArtifactRecord__Output[]> {
    return (await this.unary<DeleteArtifactsResponse__Output>("DeleteArtifacts", { ids })).deleted;
  }

  async pruneArtifacts(keepLast: number, olderThanMs: number): Promise<ArtifactRecord__Output[]> {
    return (await this.unary<DeleteArtifactsResponse__Output>("PruneArtifacts", { keep_last: keepLast, older_than_ms: olderThanMs })).deleted;
  }

  /**
   * Where the CLI may read one stored file itself (a presigned URL, a directory store's path, the object store's NATS
   * servers); undefined when the coordinator offers none, or predates DownloadSource.
   */
  downloadSource(artifactId: string, fileIndex: number): Promise<FileSource__Output | undefined> {
    return new Promise((resolve, reject) => {
      this.client.DownloadSource({ artifact_id: artifactId, file_index: fileIndex }, { deadline: new Date(Date.now() + 30_000) }, (err, res) => {
        if (err?.code === grpc.status.UNIMPLEMENTED) resolve(undefined);
        else if (err) reject(toKilnError(err, this.address));
        else resolve(res?.url || res?.path || res?.nats_servers.length ? res : undefined);
      });
    });
  }

  /** Streams one stored file's bytes from `offset` (unverified: the caller checks size and sha256). */
  async *download(artifactId: string, fileIndex: number, offset: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const call = this.client.DownloadFile({ artifact_id: artifactId, file_index: fileIndex, offset });
    const onAbort = (): void => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const chunk of call as AsyncIterable<FileChunk__Output>) yield chunk.data;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw toKilnError(err as grpc.ServiceError, this.address);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  /** Streams a build's events from after `fromSeq`; ends when the build ends or `signal` aborts. */
  async *watch(buildId: string, fromSeq: number, signal?: AbortSignal, stopWhenCaughtUp = false): AsyncGenerator<JobEvent__Output> {
    const call = this.client.WatchBuild({ build_id: buildId, from_seq: fromSeq, stop_when_caught_up: stopWhenCaughtUp });
    const onAbort = (): void => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const event of call as AsyncIterable<JobEvent__Output>) yield event;
    } catch (err) {
      if (signal?.aborted) return;
      const e = err as grpc.ServiceError;
      if (!e.metadata?.get(ERROR_CODE_METADATA_KEY).length && BROKEN_STREAM_CODES.has(e.code)) {
        // A coordinator that dies mid-stream shows up as any of these; the stream can be resumed elsewhere or later.
        throw new UnavailableError(`the event stream from the coordinator at ${this.address} broke (${e.details || e.message})`, { cause: err });
      }
      throw toKilnError(e, this.address);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }
}
