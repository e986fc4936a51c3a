/**
 * The Coordinator gRPC service (proto kiln.v1.Coordinator) over CoordinatorService. Errors leave as a gRPC status
 * plus the stable kiln error code in the `kiln-error-code` trailer; clients rebuild the typed error from the code.
 */
import * as grpc from "@grpc/grpc-js";
import { loadGrpcPackageDefinition } from "../../proto/src/mod.js";
import type {
  BuildStatus__Output,
  CancelBuildRequest__Output,
  GetBuildRequest__Output,
  JobEvent__Output,
  ListAgentsResponse__Output,
  AgentInfo__Output,
  DrainAgentRequest__Output,
  ContinueBuildRequest__Output,
  ListBuildsResponse__Output,
  SubmitBuildRequest__Output,
  SubmitBuildResponse__Output,
  WatchBuildRequest__Output,
  ArtifactRecord__Output,
  DeleteArtifactsResponse__Output,
  DownloadFileRequest__Output,
  FileChunk__Output,
  FileSource,
  ListArtifactsRequest__Output,
  ListArtifactsResponse__Output,
  PruneArtifactsRequest__Output,
} from "../../proto/src/mod.js";
import { ErrorCode, ensureKilnError } from "../../core/src/mod.js";
import type { CoordinatorService } from "./service.js";
import { deleteArtifacts, downloadChunks, downloadSource, serializeFileChunk } from "./artifact_rpc.js";

export const ERROR_CODE_METADATA_KEY = "kiln-error-code";
/** Bundles (the template's directory) travel inside SubmitBuild. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024; // 256 MiB

const statusByCode: Record<ErrorCode, grpc.status> = {
  [ErrorCode.InvalidTemplate]: grpc.status.INVALID_ARGUMENT,
  [ErrorCode.InvalidArgument]: grpc.status.INVALID_ARGUMENT,
  [ErrorCode.NotFound]: grpc.status.NOT_FOUND,
  [ErrorCode.BuildFailed]: grpc.status.ABORTED,
  [ErrorCode.Cancelled]: grpc.status.CANCELLED,
  [ErrorCode.Timeout]: grpc.status.DEADLINE_EXCEEDED,
  [ErrorCode.Unavailable]: grpc.status.UNAVAILABLE,
  [ErrorCode.AgentLost]: grpc.status.ABORTED,
  [ErrorCode.Internal]: grpc.status.INTERNAL,
  [ErrorCode.Unsupported]: grpc.status.UNIMPLEMENTED,
  [ErrorCode.StaleAttempt]: grpc.status.FAILED_PRECONDITION,
  [ErrorCode.HostKeyMismatch]: grpc.status.ABORTED,
  [ErrorCode.ChecksumMismatch]: grpc.status.DATA_LOSS,
};

function toServiceError(err: unknown): grpc.ServiceError {
  const e = ensureKilnError(err);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, e.code);
  return Object.assign(new Error(e.message), { code: statusByCode[e.code], details: e.message, metadata });
}

function unary<Req, Res>(fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

/** Loads the service definition once; the package definition is plain data. */
function coordinatorServiceDefinition(): grpc.ServiceDefinition {
  const pkg = grpc.loadPackageDefinition(loadGrpcPackageDefinition()) as unknown as {
    kiln: { v1: { Coordinator: grpc.ServiceClientConstructor } };
  };
  const service = pkg.kiln.v1.Coordinator.service;
  const download = service["DownloadFile"];
  if (!download) throw new Error("kiln.proto's Coordinator service has no DownloadFile method");
  // File chunks skip the generic encoder (see serializeFileChunk); the client decodes them as any FileChunk.
  return { ...service, DownloadFile: { ...download, responseSerialize: serializeFileChunk } };
}

export class CoordinatorGrpcServer implements AsyncDisposable {
  private constructor(
    private readonly server: grpc.Server,
    readonly address: string,
  ) {}

  /**
   * Binds on `listen` (host:port; port 0 picks a free one). `advertiseNats`: NATS server URLs handed to clients so
   * they read object-store downloads themselves (only where they reach the farm's NATS; they fall back to the stream).
   */
  static async start(service: CoordinatorService, listen: string, options: { advertiseNats?: readonly string[] } = {}): Promise<CoordinatorGrpcServer> {
    const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES, "grpc.max_send_message_length": MAX_MESSAGE_BYTES });
    const handlers: grpc.UntypedServiceImplementation = {
      SubmitBuild: unary<SubmitBuildRequest__Output, SubmitBuildResponse__Output>(async (req) => {
        const build = await service.submit(req);
        return { build_id: build.build?.id ?? "", build };
      }),
      GetBuild: unary<GetBuildRequest__Output, BuildStatus__Output>((req) => service.status(req.build_id)),
      ListBuilds: unary<{ limit: number }, ListBuildsResponse__Output>(async (req) => ({ builds: await service.list(req.limit) })),
      CancelBuild: unary<CancelBuildRequest__Output, BuildStatus__Output>((req) => service.cancel(req.build_id)),
      ListAgents: unary<unknown, ListAgentsResponse__Output>(async () => ({ agents: await service.listAgents() })),
      ContinueBuild: unary<ContinueBuildRequest__Output, BuildStatus__Output>((req) => service.continueBuild(req.build_id)),
      DrainAgent: unary<DrainAgentRequest__Output, AgentInfo__Output>((req) => service.drainAgent(req.name)),
      ListArtifacts: unary<ListArtifactsRequest__Output, ListArtifactsResponse__Output>(async (req) => ({
        artifacts: await (await service.artifacts()).list(req.build_id || undefined, req.labels),
      })),
      GetArtifact: unary<{ id: string }, ArtifactRecord__Output>(async (req) => (await service.artifacts()).catalog.resolve(req.id)),
      DeleteArtifacts: unary<{ ids: string[] }, DeleteArtifactsResponse__Output>(async (req) => ({
        deleted: await deleteArtifacts(await service.artifacts(), req.ids),
      })),
      PruneArtifacts: unary<PruneArtifactsRequest__Output, DeleteArtifactsResponse__Output>(async (req) => ({
        deleted: await (await service.artifacts()).prune({ keepLast: req.keep_last, olderThanMs: Number(req.older_than_ms) }),
      })),
      DownloadSource: unary<DownloadFileRequest__Output, FileSource>(async (req) => downloadSource(await service.artifacts(), req.artifact_id, req.file_index, options.advertiseNats)),
      DownloadFile: ((call: grpc.ServerWritableStream<DownloadFileRequest__Output, FileChunk__Output>) => {
        const abort = new AbortController();
        call.on("cancelled", () => abort.abort());
        void (async () => {
          try {
            const { artifact_id: id, file_index: index, offset } = call.request;
            for await (const data of downloadChunks(await service.artifacts(), id, index, Number(offset), abort.signal)) {
              if (!call.write({ data })) {
                await new Promise<void>((resolve) => {
                  const done = (): void => {
                    call.off("drain", done);
                    abort.signal.removeEventListener("abort", done);
                    resolve();
                  };
                  call.once("drain", done);
                  abort.signal.addEventListener("abort", done, { once: true });
                });
              }
              if (abort.signal.aborted) return;
            }
            call.end();
          } catch (err) {
            // Emitting (not destroying) makes grpc-js end the call with this status, trailer included.
            if (!abort.signal.aborted) call.emit("error", toServiceError(err));
          }
        })();
      }) as grpc.handleServerStreamingCall<DownloadFileRequest__Output, FileChunk__Output>,
      WatchBuild: ((call: grpc.ServerWritableStream<WatchBuildRequest__Output, JobEvent__Output>) => {
        const abort = new AbortController();
        call.on("cancelled", () => abort.abort());
        void (async () => {
          try {
            for await (const event of service.watch(call.request.build_id, Number(call.request.from_seq), abort.signal, call.request.stop_when_caught_up)) {
              if (!call.write(event)) await new Promise((resolve) => call.once("drain", resolve));
            }
            call.end();
          } catch (err) {
            if (!abort.signal.aborted) call.destroy(toServiceError(err));
          }
        })();
      }) as grpc.handleServerStreamingCall<WatchBuildRequest__Output, JobEvent__Output>,
    };
    server.addService(coordinatorServiceDefinition(), handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const host = listen.slice(0, listen.lastIndexOf(":")) || "127.0.0.1";
    return new CoordinatorGrpcServer(server, `${host}:${port}`);
  }

  /** Stops accepting calls, ends open streams after a grace period. */
  async stop(graceMs = 2_000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
