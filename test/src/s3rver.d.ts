// s3rver ships no type declarations; the part of its API the test harness uses.
declare module "s3rver" {
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    /** Koa's middleware list (s3rver is a Koa application); composed when the server starts. */
    middleware: ((ctx: never, next: () => Promise<void>) => Promise<void>)[];
  }
}
