/**
 * kiln's error catalog. Every failure kiln reports is one of these classes, with a stable `code` that mirrors the
 * protobuf `kiln.v1.ErrorCode` enum. Errors cross the wire as codes (see `toFailure` / `fromFailure`), never as
 * parsed message text. Every code has a row in docs/errors.md.
 */
import type { Failure, Failure__Output, ErrorCode as WireErrorCode } from "../../proto/src/mod.js";

export const ErrorCode = {
  InvalidTemplate: "ERROR_CODE_INVALID_TEMPLATE",
  InvalidArgument: "ERROR_CODE_INVALID_ARGUMENT",
  NotFound: "ERROR_CODE_NOT_FOUND",
  BuildFailed: "ERROR_CODE_BUILD_FAILED",
  Cancelled: "ERROR_CODE_CANCELLED",
  Timeout: "ERROR_CODE_TIMEOUT",
  Unavailable: "ERROR_CODE_UNAVAILABLE",
  AgentLost: "ERROR_CODE_AGENT_LOST",
  Internal: "ERROR_CODE_INTERNAL",
  Unsupported: "ERROR_CODE_UNSUPPORTED",
  StaleAttempt: "ERROR_CODE_STALE_ATTEMPT",
  HostKeyMismatch: "ERROR_CODE_HOST_KEY_MISMATCH",
  ChecksumMismatch: "ERROR_CODE_CHECKSUM_MISMATCH",
} as const satisfies Record<string, WireErrorCode>;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface KilnErrorOptions extends ErrorOptions {
  retryable?: boolean;
}

/** Base class: a message for people, a code for programs, the cause chain kept. */
export class KilnError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options?: KilnErrorOptions) {
    super(message, options);
    this.name = "KilnError";
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

/**
 * A template or its inputs are wrong. `problems` holds every problem found (validation collects all errors at once),
 * each already phrased for the user with file, JSON path and fix where known.
 */
export class InvalidTemplateError extends KilnError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: KilnErrorOptions) {
    super(ErrorCode.InvalidTemplate, problems.join("\n"), options);
    this.name = "InvalidTemplateError";
    this.problems = Object.freeze([...problems]);
  }
}

export class InvalidArgumentError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.InvalidArgument, message, options);
    this.name = "InvalidArgumentError";
  }
}

export class NotFoundError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.NotFound, message, options);
    this.name = "NotFoundError";
  }
}

/** A builder, provisioner or post-processor failed. */
export class BuildFailedError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.BuildFailed, message, options);
    this.name = "BuildFailedError";
  }
}

export class CancelledError extends KilnError {
  constructor(message = "Build was cancelled.", options?: KilnErrorOptions) {
    super(ErrorCode.Cancelled, message, options);
    this.name = "CancelledError";
  }
}

export class TimeoutError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.Timeout, message, options);
    this.name = "TimeoutError";
  }
}

export class UnavailableError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.Unavailable, message, { retryable: true, ...options });
    this.name = "UnavailableError";
  }
}

export class UnsupportedError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.Unsupported, message, options);
    this.name = "UnsupportedError";
  }
}

export class StaleAttemptError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.StaleAttempt, message, options);
    this.name = "StaleAttemptError";
  }
}

/** An SSH server presented a host key other than the pinned one (`ssh_host_key_fingerprint`, `ssh_known_hosts_file`). */
export class HostKeyMismatchError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.HostKeyMismatch, message, options);
    this.name = "HostKeyMismatchError";
  }
}

/** An artifact file's bytes differ from the size or sha256 recorded when it was stored: corrupt or replaced. */
export class ChecksumMismatchError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.ChecksumMismatch, message, options);
    this.name = "ChecksumMismatchError";
  }
}

export class InternalError extends KilnError {
  constructor(message: string, options?: KilnErrorOptions) {
    super(ErrorCode.Internal, message, options);
    this.name = "InternalError";
  }
}

const byCode: Record<ErrorCode, new (message: string, options?: KilnErrorOptions) => KilnError> = {
  [ErrorCode.InvalidTemplate]: class extends InvalidTemplateError {
    constructor(message: string, options?: KilnErrorOptions) {
      super(message.split("\n"), options);
    }
  },
  [ErrorCode.InvalidArgument]: InvalidArgumentError,
  [ErrorCode.NotFound]: NotFoundError,
  [ErrorCode.BuildFailed]: BuildFailedError,
  [ErrorCode.Cancelled]: CancelledError,
  [ErrorCode.Timeout]: TimeoutError,
  [ErrorCode.Unavailable]: UnavailableError,
  [ErrorCode.AgentLost]: class AgentLostError extends KilnError {
    constructor(message: string, options?: KilnErrorOptions) {
      super(ErrorCode.AgentLost, message, options);
      this.name = "AgentLostError";
    }
  },
  [ErrorCode.Internal]: InternalError,
  [ErrorCode.Unsupported]: UnsupportedError,
  [ErrorCode.StaleAttempt]: StaleAttemptError,
  [ErrorCode.HostKeyMismatch]: HostKeyMismatchError,
  [ErrorCode.ChecksumMismatch]: ChecksumMismatchError,
};

/** Turns anything thrown into a KilnError, at a boundary. Unknown errors become Internal, with the cause kept. */
export function ensureKilnError(err: unknown): KilnError {
  if (err instanceof KilnError) return err;
  if (err instanceof Error && err.name === "AbortError") return new CancelledError(undefined, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}

/** The wire form of an error (protobuf `Failure`). */
export function toFailure(err: unknown): Failure {
  const e = ensureKilnError(err);
  return { code: e.code, message: e.message, retryable: e.retryable };
}

/** Rebuilds the typed error from its wire form, by code. */
export function fromFailure(failure: Failure__Output): KilnError {
  const code = (Object.values(ErrorCode) as string[]).includes(failure.code) ? (failure.code as ErrorCode) : ErrorCode.Internal;
  return new byCode[code](failure.message, { retryable: failure.retryable });
}

/** True when err, or anything in its cause chain, is a KilnError with this code. */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof KilnError && e.code === code) return true;
  }
  return false;
}
