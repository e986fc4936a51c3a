/** The committed TypeScript types must be exactly what proto-loader-gen-types makes of the current schema. */
import { execFile } from "node:child_process";
import { readFile, readdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { codecs } from "../src/mod.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..", "..");

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full, base)));
    else if (entry.name.endsWith(".ts")) out.push(path.relative(base, full));
  }
  return out.sort();
}

describe("proto - generated types", () => {
  it("are not stale (run `npm run gen:proto` after editing proto/kiln/v1/kiln.proto)", async () => {
    const out = await mkdtemp(path.join(tmpdir(), "kiln-gen-"));
    try {
      await run(
        path.join(root, "node_modules", ".bin", "proto-loader-gen-types"),
        ["--keepCase", "--longs=String", "--enums=String", "--defaults", "--oneofs", "--grpcLib=@grpc/grpc-js", `--outDir=${out}`, "proto/kiln/v1/kiln.proto"],
        { cwd: root },
      );
      const committed = path.join(root, "proto", "generated");
      const files = await listFiles(out);
      expect(await listFiles(committed)).toEqual(files);
      for (const f of files) {
        expect(await readFile(path.join(committed, f), "utf8"), f).toBe(await readFile(path.join(out, f), "utf8"));
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("round-trips NATS payloads through the protobuf codec", () => {
    const job = codecs.Job.decode(
      codecs.Job.encode({ build_id: "b", job_id: "j0", name: "x", user_variables: { a: "1" }, provisioners: [{ type: "shell-local", config_json: "{}" }] }),
    );
    expect(job).toMatchObject({ build_id: "b", job_id: "j0", name: "x", user_variables: { a: "1" }, datacenter: "" });
    expect(job.provisioners[0]?.type).toBe("shell-local");
    const event = codecs.JobEvent.decode(codecs.JobEvent.encode({ build_id: "b", log: { text: "hi", level: "LEVEL_ERROR" } }));
    expect(event.kind).toBe("log");
    expect(event.log?.level).toBe("LEVEL_ERROR");
  });
});
