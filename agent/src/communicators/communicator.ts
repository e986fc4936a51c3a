import type { TreeEntry } from "./ssh.js";

/** What provisioners use to reach the machine being built (Packer's `packersdk.Communicator`). */

export interface CommandOptions {
  readonly signal: AbortSignal;
  readonly onStdout?: (line: string) => void;
  readonly onStderr?: (line: string) => void;
}

export interface Communicator {
  /** Runs a command; resolves to its exit status (2300218 when the connection dropped). */
  start(command: string, opts: CommandOptions): Promise<number>;
  /** Uploads a local file (path) or a buffer to a file path on the guest. */
  upload(source: string | Buffer, remotePath: string, signal: AbortSignal, mode?: number): Promise<void>;
  /**
   * Writes `content` to `remotePath` as an executable (0755) and runs `command` in one go, as the shell provisioner
   * does with each script, in fewer round trips than `upload`, a chmod and `start`. Resolves to the exit status
   * like `start`; rejects when the file could not be written. Optional: the provisioner does the three steps
   * otherwise.
   */
  uploadAndStart?(content: Buffer, remotePath: string, command: string, opts: CommandOptions): Promise<number>;
  /** Uploads a tree of directories and files into the existing directory `remoteDir`. */
  uploadTree(remoteDir: string, entries: readonly TreeEntry[], signal: AbortSignal): Promise<void>;
  /** Downloads a file from the guest to a local file path. */
  download(remotePath: string, localPath: string, signal: AbortSignal): Promise<void>;
  /**
   * Downloads the directory `remoteDir` (recursively) into the local directory `localDir`, as `scp -r` does: the
   * directory itself lands in `localDir`. Optional: a communicator without it cannot download directories.
   */
  downloadDir?(remoteDir: string, localDir: string, signal: AbortSignal): Promise<void>;
}
