/**
 * Artifacts end to end over a real farm (nats-server, coordinator, agent) and a real S3-compatible server: agents
 * stream artifact files into the farm's store with sha256, the catalog records them, `kiln artifacts` lists, shows,
 * downloads (verifying), removes and prunes them, corruption is detected, and the build cache reuses identical builds.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, readdir, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ArtifactRecord__Output, BuildStatus__Output, FileSource__Output, JobEvent__Output } from "../../proto/src/mod.js";
import type { ArtifactStoreConfig } from "../../core/src/mod.js";
import { main } from "../../cli/src/main.js";
import { packBundle } from "../../cli/src/bundle.js";
import { CoordinatorConnection, downloadArtifacts } from "../../cli/src/mod.js";
import { S3Server, S3_TEST_CREDENTIALS, TcpProxy, TestFarm, runKiln, seededRandom, tempDir, watchToEnd } from "../src/mod.js";

const MiB = 1024 * 1024;
/** Larger than a NATS message, an object-store chunk, a gRPC download chunk and several S3 parts. */
const BIG_BYTES = 24 * MiB;

function randomBytes(size: number, seed: number): Buffer {
  const next = seededRandom(seed);
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) buf.writeUInt32LE(Math.floor(next() * 0x1_0000_0000), i);
  return buf;
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

const TEMPLATE = JSON.stringify(
  {
    variables: { flavor: "a", big: "" },
    builders: [
      // The big file comes from the agent's own disk (an absolute path): bundling it would only time gzip.
      { type: "file", name: "big", source: "{{user `big`}}", target: "out/big.img" },
      { type: "file", name: "small", content: "flavor {{user `flavor`}}", target: "out/small.txt" },
    ],
  },
  null,
  2,
);

/** Runs the kiln CLI in this process and captures its output. */
async function kiln(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

interface Project {
  dir: string;
  big: Buffer;
  bigPath: string;
  cleanup: () => Promise<void>;
}

async function project(seed: number, size = BIG_BYTES): Promise<Project> {
  const { dir, cleanup } = await tempDir("kiln-artifacts-project-");
  const big = randomBytes(size, seed);
  await mkdir(path.join(dir, "agent-disk"));
  await writeFile(path.join(dir, "agent-disk", "big.bin"), big);
  await writeFile(path.join(dir, ".kilnignore"), "agent-disk/\n");
  await writeFile(path.join(dir, "template.json"), TEMPLATE);
  return { dir, big, bigPath: path.join(dir, "agent-disk", "big.bin"), cleanup };
}

async function submit(client: CoordinatorConnection, p: Project, opts: { variables?: Record<string, string>; force?: boolean } = {}): Promise<{ status: BuildStatus__Output; events: JobEvent__Output[] }> {
  const submitted = await client.submit({
    template_json: TEMPLATE,
    template_name: path.join(p.dir, "template.json"),
    variables: { big: p.bigPath, ...opts.variables },
    options: { force: opts.force ?? false },
    bundle: await packBundle(p.dir),
    bundle_template_path: "template.json",
  });
  const result = await watchToEnd(client, submitted.build?.id ?? "");
  const failures = result.status.jobs.map((j) => j.failure?.message).filter(Boolean);
  expect(result.status.build?.state, JSON.stringify(failures)).toBe("BUILD_STATE_SUCCEEDED");
  return result;
}

const reuseLines = (events: readonly JobEvent__Output[]): string[] =>
  events.filter((e) => e.log?.text.startsWith("reusing artifacts")).map((e) => `${e.name}: ${e.log?.text}`);

async function setStore(farm: TestFarm, config: ArtifactStoreConfig): Promise<void> {
  const coordinator = farm.coordinators[0];
  if (!coordinator) throw new Error("start a coordinator first");
  await (await coordinator.service.artifacts()).catalog.setStoreConfig(config);
}

describe("artifacts - JetStream object store (default backend)", () => {
  let farm: TestFarm;
  let client: CoordinatorConnection;
  let p: Project;
  let user: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    farm = await TestFarm.start();
    client = await farm.addCoordinator();
    await farm.addAgent({ name: "a1", builderTypes: ["file"], slots: 2 });
    p = await project(1);
    user = await tempDir("kiln-artifacts-user-");
  });
  afterAll(async () => {
    await farm.stop();
    await p.cleanup();
    await user.cleanup();
  });

  let first: BuildStatus__Output;
  let address: string;

  it("kiln build --download: the agent stores every artifact file with its sha256 and the CLI fetches them to the template's paths", async () => {
    address = farm.coordinators[0]?.server.address ?? "";
    const run = await runKiln(
      ["build", "--coordinator", address, "--download", "--label", "release=2.1", "--label", "team=infra", "-var", `big=${p.bigPath}`, path.join(p.dir, "template.json")],
      { cwd: user.dir, timeoutMs: 120_000 },
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(sha256(await readFile(path.join(user.dir, "out", "big.img")))).toBe(sha256(p.big));
    expect(await readFile(path.join(user.dir, "out", "small.txt"), "utf8")).toBe("flavor a");
    expect(run.stderr).toMatch(/out\/big\.img: 24\.0 MiB in .*sha256 ok/);
    // No partial file is left behind.
    expect((await readdir(path.join(user.dir, "out"))).sort()).toEqual(["big.img", "small.txt"]);

    const builds = await client.listBuilds();
    first = builds[0] as BuildStatus__Output;
    const big = first.jobs.find((j) => j.name === "big");
    expect(big?.artifacts[0]?.files[0]).toMatchObject({ name: "out/big.img", size: String(BIG_BYTES), sha256: sha256(p.big) });
  });

  it("kiln artifacts ls/show list the catalog records: files, sizes, sha256, agent, build, fingerprint", async () => {
    const ls = await kiln(["artifacts", "ls", first.build?.id ?? "", "--json", "--coordinator", address]);
    expect(ls.code, ls.stderr).toBe(0);
    const records = JSON.parse(ls.stdout) as ArtifactRecord__Output[];
    expect(records.map((r) => r.build_name).sort()).toEqual(["big", "small"]);
    const big = records.find((r) => r.build_name === "big") as ArtifactRecord__Output;
    expect(big).toMatchObject({
      builder_id: "packer.file",
      agent: "a1",
      build_id: first.build?.id,
      template_name: path.join(p.dir, "template.json"),
      store: "nats",
      count: 1,
      index: 0,
    });
    expect(big.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(big.files).toEqual([{ name: "out/big.img", size: String(BIG_BYTES), sha256: sha256(p.big), object: `${first.build?.id}/j0/0/0-big.img`, store: "nats" }]);

    const show = await kiln(["artifacts", "show", big.id.slice(0, 6), "--coordinator", address]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`ID:          ${big.id}`);
    expect(show.stdout).toContain(`out/big.img  24.0 MiB  sha256:${sha256(p.big)}`);
    const table = await kiln(["artifacts", "ls", "--coordinator", address]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+BUILD\s+NAME\s+TEMPLATE\s+FILES\s+SIZE\s+CREATED\s+LABELS/);
    expect(table.stdout).toMatch(new RegExp(`^${big.id} .* release=2\\.1,team=infra`, "m"));

    // User labels: on every artifact of the build, shown, and a filter (all given labels must match).
    expect(big.labels).toMatchObject({ release: "2.1", team: "infra", builder_type: "file" });
    expect(show.stdout).toContain("Label:       release=2.1");
    const byLabel = await kiln(["artifacts", "ls", "--label", "release=2.1", "--label", "team=infra", "--json", "--coordinator", address]);
    expect((JSON.parse(byLabel.stdout) as ArtifactRecord__Output[]).map((r) => r.build_name).sort()).toEqual(["big", "small"]);
    const noMatch = await kiln(["artifacts", "ls", "--label", "release=2.1", "--label", "team=web", "--json", "--coordinator", address]);
    expect(JSON.parse(noMatch.stdout)).toEqual([]);
    const badLabel = await kiln(["artifacts", "ls", "--label", "release", "--coordinator", address]);
    expect(badLabel.stderr).toBe("Error: --label 'release': expected key=value with a key of letters, digits, '.', '_', '-' or '/' (e.g. --label release=2.1)\n");

    const missing = await kiln(["artifacts", "show", "ffffffffffff", "--coordinator", address]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("Error: no artifact with id ffffffffffff (see kiln artifacts ls)\n");
  });

  it("kiln artifacts get BUILD --dest streams a build's files back byte-identical", async () => {
    const dest = path.join(user.dir, "fetched");
    const get = await kiln(["artifacts", "get", first.build?.id ?? "", "--dest", dest, "--coordinator", address]);
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(await readFile(path.join(dest, "out", "big.img")))).toBe(sha256(p.big));
    // Not a TTY: plain progress lines, one per quarter, then the verified summary.
    expect(get.stderr).toMatch(/out\/big\.img: 25% \(6\.0 MiB of 24\.0 MiB\)\nout\/big\.img: 50%/);
  });

  it("a coordinator that advertises its NATS servers: the CLI reads object-store files from NATS itself, and through the coordinator where it cannot", async () => {
    await farm.addCoordinator({ advertiseNats: true });
    const advertising = farm.coordinators[1]?.server.address ?? "";
    const big = (await client.listArtifacts(first.build?.id ?? "")).find((r) => r.build_name === "big") as ArtifactRecord__Output;
    // The coordinator that does not advertise them offers no source for the object store.
    expect(await client.downloadSource(big.id, 0)).toBeUndefined();
    const get = await kiln(["artifacts", "get", big.id, "--dest", path.join(user.dir, "nats-direct"), "--coordinator", advertising]);
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(await readFile(path.join(user.dir, "nats-direct", "out", "big.img")))).toBe(sha256(p.big));
    expect(get.stderr).toMatch(/out\/big\.img: 24\.0 MiB in .*, sha256 ok -> .*big\.img \(read from the object store directly\)$/m);

    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    /** The CLI reaches NATS through `proxy` (refused where none is given). */
    const viaCli = (proxyPort: number): CoordinatorConnection =>
      new (class extends CoordinatorConnection {
        override async downloadSource(id: string, index: number): Promise<FileSource__Output | undefined> {
          const source = await super.downloadSource(id, index);
          expect(source).toMatchObject({ url: "", path: "", nats_servers: [farm.nats.url], nats_object: big.files[0]?.object });
          return source && { ...source, nats_servers: [`nats://127.0.0.1:${proxyPort}`] };
        }
      })(advertising);
    const fetch = async (cli: CoordinatorConnection, target: string, during?: () => void): Promise<string> => {
      let stderr = "";
      try {
        const done = downloadArtifacts(cli, [big], () => target, { stdout: () => undefined, stderr: (t) => (stderr += t) }, false);
        during?.();
        await done;
        expect(sha256(await readFile(target))).toBe(sha256(p.big));
      } finally {
        cli.close();
      }
      return stderr;
    };
    const refused = await fetch(viaCli(closedPort), path.join(user.dir, "nats-refused", "big.img"));
    expect(refused).toMatch(new RegExp(`^out/big\\.img: cannot read it from nats://127\\.0\\.0\\.1:${closedPort} directly \\(.*\\); through the coordinator from 0 B$`, "m"));
    expect(refused).toMatch(/out\/big\.img: 24\.0 MiB in .*, sha256 ok -> .*big\.img$/m);

    // The connection drops mid-file: the coordinator's stream continues from the byte the direct read reached.
    const proxy = await TcpProxy.start(Number(new URL(farm.nats.url).port));
    const target = path.join(user.dir, "nats-cut", "big.img");
    let poll: NodeJS.Timeout | undefined;
    try {
      const cut = await fetch(viaCli(proxy.port), target, () => {
        poll = setInterval(() => {
          void stat(`${target}.kiln-partial`).then(
            (s) => {
              if (s.size > 0 && poll) {
                clearInterval(poll);
                proxy.cut(60_000);
              }
            },
            () => undefined,
          );
        }, 1);
      });
      const resumed = new RegExp(`^out/big\\.img: cannot read it from nats://127\\.0\\.0\\.1:${proxy.port} directly \\(.*\\); through the coordinator from ([0-9.]+ [KM]?i?B)$`, "m").exec(cut);
      expect(resumed?.[1], cut).toBeDefined();
      expect(resumed?.[1]).not.toBe("0 B");
    } finally {
      clearInterval(poll);
      await proxy.stop();
    }

    // The server stops sending without dropping the connection: after the stall timeout the coordinator takes over.
    const hanging = await TcpProxy.start(Number(new URL(farm.nats.url).port));
    const stalledTarget = path.join(user.dir, "nats-stalled", "big.img");
    let stallPoll: NodeJS.Timeout | undefined;
    try {
      const cli = viaCli(hanging.port);
      let stderr = "";
      try {
        const done = downloadArtifacts(cli, [big], () => stalledTarget, { stdout: () => undefined, stderr: (t) => (stderr += t) }, false, { directStallMs: 1_500 });
        stallPoll = setInterval(() => {
          void stat(`${stalledTarget}.kiln-partial`).then(
            (st) => {
              if (st.size > 0 && stallPoll) {
                clearInterval(stallPoll);
                hanging.stall();
              }
            },
            () => undefined,
          );
        }, 1);
        await done;
      } finally {
        cli.close();
      }
      expect(sha256(await readFile(stalledTarget))).toBe(sha256(p.big));
      expect(stderr).toMatch(/^out\/big\.img: cannot read it from nats:\/\/127\.0\.0\.1:\d+ directly \(nothing arrived from the object store for 1\.5s\); through the coordinator from [0-9.]+ [KM]i?B$/m);
    } finally {
      clearInterval(stallPoll);
      await hanging.stop();
    }
  });

  it("build cache: identical inputs reuse the artifacts; a changed variable or file, or -force, rebuilds", async () => {
    const firstId = first.build?.id ?? "";
    const again = await runKiln(["build", "--coordinator", address, "--label", "release=2.2", "-var", `big=${p.bigPath}`, path.join(p.dir, "template.json")], {
      cwd: user.dir,
      timeoutMs: 120_000,
    });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain(`==> big: reusing artifacts of build ${firstId} (identical inputs)`);
    expect(again.stdout).toContain(`==> small: reusing artifacts of build ${firstId} (identical inputs)`);
    const reused = (await client.listBuilds())[0] as BuildStatus__Output;
    expect(reused.build?.id).not.toBe(firstId);
    // No agent ran it, and the reused record points at its origin and shares its stored object.
    expect(reused.jobs.map((j) => j.agent)).toEqual(["", ""]);
    const copies = await client.listArtifacts(reused.build?.id ?? "");
    const originals = await client.listArtifacts(firstId);
    const copy = copies.find((r) => r.build_name === "big");
    const original = originals.find((r) => r.build_name === "big");
    expect(copy?.reused_from).toBe(original?.id);
    expect(copy?.files[0]?.object).toBe(original?.files[0]?.object);
    // The copies carry the new build's labels.
    expect(copy?.labels).toMatchObject({ release: "2.2", team: "infra" });

    const changedVar = await submit(client, p, { variables: { flavor: "b" } });
    expect(reuseLines(changedVar.events)).toEqual([]);
    expect(changedVar.status.jobs.map((j) => j.agent)).toEqual(["a1", "a1"]);

    const forced = await submit(client, p, { force: true });
    expect(reuseLines(forced.events)).toEqual([]);

    await writeFile(path.join(p.dir, "notes.txt"), "a file in the template's directory changed");
    const changedFile = await submit(client, p);
    expect(reuseLines(changedFile.events)).toEqual([]);
    const sameAgain = await submit(client, p);
    expect(reuseLines(sameAgain.events)).toEqual([
      `big: reusing artifacts of build ${changedFile.status.build?.id} (identical inputs)`,
      `small: reusing artifacts of build ${changedFile.status.build?.id} (identical inputs)`,
    ]);

    // The big file is named by an absolute path and kept out of the bundle (.kilnignore): the CLI hashes it at
    // submit, so a changed byte in it rebuilds, and the unchanged file reuses again.
    const build = ["build", "--coordinator", address, "-var", `big=${p.bigPath}`, path.join(p.dir, "template.json")];
    const flipByte = async (): Promise<void> => {
      const fh = await open(p.bigPath, "r+");
      await fh.write(Buffer.from([(p.big[100] ?? 0) ^ 0xff]), 0, 1, 100);
      await fh.close();
    };
    // notes.txt changed the bundle since the CLI's last build: this one builds and is the base to reuse.
    const base = await runKiln(build, { cwd: user.dir, timeoutMs: 120_000 });
    expect(base.code, base.stdout + base.stderr).toBe(0);
    const baseId = (await client.listBuilds())[0]?.build?.id ?? "";
    await flipByte();
    const changedOutside = await runKiln(build, { cwd: user.dir, timeoutMs: 120_000 });
    await writeFile(p.bigPath, p.big);
    expect(changedOutside.code, changedOutside.stdout + changedOutside.stderr).toBe(0);
    expect(changedOutside.stdout).not.toContain("reusing artifacts");
    const unchangedOutside = await runKiln(build, { cwd: user.dir, timeoutMs: 120_000 });
    expect(unchangedOutside.code, unchangedOutside.stdout + unchangedOutside.stderr).toBe(0);
    expect(unchangedOutside.stdout).toContain(`==> big: reusing artifacts of build ${baseId} (identical inputs)`);
  });

  it("rm spares objects a reused record still needs; prune keeps the newest N builds per template and name", async () => {
    const firstId = first.build?.id ?? "";
    const original = (await client.listArtifacts(firstId)).find((r) => r.build_name === "big") as ArtifactRecord__Output;
    const rm = await kiln(["artifacts", "rm", original.id, "--coordinator", address]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toBe(`removed ${original.id} (big, build ${firstId})\n`);
    expect((await client.listArtifacts(firstId)).map((r) => r.build_name)).toEqual(["small"]);
    // The copy made by the cache hit still downloads: its object was kept.
    const copy = (await client.listArtifacts()).find((r) => r.reused_from === original.id) as ArtifactRecord__Output;
    const dest = path.join(user.dir, "after-rm");
    expect((await kiln(["artifacts", "get", copy.id, "--dest", dest, "--coordinator", address])).code).toBe(0);
    expect(sha256(await readFile(path.join(dest, "out", "big.img")))).toBe(sha256(p.big));

    const before = await client.listArtifacts();
    const newestBuild = before[0]?.build_id;
    const prune = await kiln(["artifacts", "prune", "--keep", "1", "--coordinator", address]);
    expect(prune.code, prune.stderr).toBe(0);
    const after = await client.listArtifacts();
    expect(after.map((r) => r.build_id)).toEqual([newestBuild, newestBuild]);
    expect(prune.stdout).toContain(`${before.length - 2} artifact(s) removed`);
    // Objects only the pruned records used are gone from the store; the survivors still verify.
    const dest2 = path.join(user.dir, "after-prune");
    expect((await kiln(["artifacts", "get", newestBuild ?? "", "--dest", dest2, "--coordinator", address])).code).toBe(0);

    const bad = await kiln(["artifacts", "prune", "--older-than", "3 days", "--coordinator", address]);
    expect(bad.stderr).toBe("Error: --older-than '3 days': expected a duration such as 90s, 30m, 36h or 7d\n");
    // The survivors must be older than 1 s first: on an idle machine this point comes sooner than that.
    const youngest = Math.max(...after.map((r) => Number(r.created_at_ms)));
    await new Promise((r) => setTimeout(r, Math.max(0, youngest + 1_200 - Date.now())));
    const old = await kiln(["artifacts", "prune", "--older-than", "1s", "--coordinator", address]);
    expect(old.stdout).toContain("2 artifact(s) removed");
    expect(await client.listArtifacts()).toEqual([]);
  });

  it("build cache: artifacts built while an outside file was not what the CLI hashed (here: changed by the build) are not reused", async () => {
    const dir = path.join(user.dir, "changes-its-input");
    await mkdir(dir);
    const input = path.join(user.dir, "outside-input.txt");
    await writeFile(input, "one\n");
    const template = {
      variables: { input: "" },
      builders: [{ type: "file", name: "copy", source: "{{user `input`}}", target: "out/copy.txt" }],
      // The agent reads the outside file with other content than the CLI hashed at submit (as another host's copy).
      provisioners: [{ type: "shell-local", inline: ["echo changed >> {{user `input`}}"] }],
    };
    await writeFile(path.join(dir, "template.json"), JSON.stringify(template));
    const build = ["build", "--coordinator", address, "-var", `input=${input}`, path.join(dir, "template.json")];
    const first = await runKiln(build, { cwd: user.dir, timeoutMs: 120_000 });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain(`==> copy: build cache: ${input} on this agent is not what the CLI hashed at submit; these artifacts will not be reused`);
    const firstId = (await client.listBuilds())[0]?.build?.id ?? "";
    expect((await client.listArtifacts(firstId)).map((r) => r.fingerprint)).toEqual([""]);

    // The same inputs as the CLI saw them the first time: built again, not reused.
    await writeFile(input, "one\n");
    const again = await runKiln(build, { cwd: user.dir, timeoutMs: 120_000 });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toContain("reusing artifacts");
  });
});

describe("artifacts - directory and S3 backends", () => {
  let farm: TestFarm;
  let client: CoordinatorConnection;
  let address: string;
  let p: Project;
  let user: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    farm = await TestFarm.start();
    client = await farm.addCoordinator();
    address = farm.coordinators[0]?.server.address ?? "";
    await farm.addAgent({ name: "a1", builderTypes: ["file"], slots: 2 });
    user = await tempDir("kiln-artifacts-user-");
  });
  afterEach(async () => {
    await farm.stop();
    await p.cleanup();
    await user.cleanup();
  });

  it("a shared directory store: round trip, and a corrupted stored file fails get with a checksum error and leaves no file", async () => {
    p = await project(2, 3 * MiB);
    const storeDir = path.join(user.dir, "store");
    await mkdir(storeDir);
    await setStore(farm, { backend: "dir", path: storeDir });
    const { status } = await submit(client, p);
    const records = await client.listArtifacts(status.build?.id ?? "");
    const big = records.find((r) => r.build_name === "big") as ArtifactRecord__Output;
    expect(big.store).toBe("dir");
    const stored = path.join(storeDir, big.files[0]?.object ?? "");
    expect(sha256(await readFile(stored))).toBe(sha256(p.big));

    const ok = await kiln(["artifacts", "get", big.id, "--dest", path.join(user.dir, "ok"), "--coordinator", address]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(sha256(await readFile(path.join(user.dir, "ok", "out", "big.img")))).toBe(sha256(p.big));
    // The CLI mounts the store where the coordinator does (the same host): it read the file there, not via gRPC.
    expect(ok.stderr).toMatch(/out\/big\.img: 3\.0 MiB in .*, sha256 ok -> .*big\.img \(read from the store directory directly\)$/m);

    // Flip one byte in the middle of the stored object: same size, different content.
    const corrupt = Buffer.from(p.big);
    const middle = corrupt.length >> 1;
    corrupt[middle] = (corrupt[middle] ?? 0) ^ 0xff;
    await writeFile(stored, corrupt);
    const dest = path.join(user.dir, "bad");
    const bad = await kiln(["artifacts", "get", big.id, "--dest", dest, "--coordinator", address]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: out\/big\.img: sha256 [0-9a-f]{64} does not match the recorded [0-9a-f]{64}; the stored object is corrupt\n$/m);
    expect(await readdir(path.join(dest, "out"))).toEqual([]);

    // A job whose stored object is gone (or damaged in size) is not reusable: it runs again; the other job hits.
    await writeFile(stored, "");
    const rebuilt = await submit(client, p);
    expect(reuseLines(rebuilt.events)).toEqual([`small: reusing artifacts of build ${status.build?.id} (identical inputs)`]);
    expect(rebuilt.status.jobs.find((j) => j.name === "big")?.agent).toBe("a1");
  });

  it("an S3-compatible store (s3rver): multipart upload of a 24 MiB file, byte-identical get straight from S3 (a presigned URL) or, when the CLI cannot reach it, through the coordinator; a replaced object is detected", async () => {
    p = await project(3);
    await using s3 = await S3Server.start();
    await setStore(farm, {
      backend: "s3",
      bucket: "kiln-artifacts",
      prefix: "farm1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      partSizeBytes: 5 * MiB,
      ...S3_TEST_CREDENTIALS,
    });
    const { status } = await submit(client, p);
    const big = (await client.listArtifacts(status.build?.id ?? "")).find((r) => r.build_name === "big") as ArtifactRecord__Output;
    expect(big).toMatchObject({ store: "s3", files: [{ size: String(BIG_BYTES), sha256: sha256(p.big) }] });

    const dest = path.join(user.dir, "s3");
    const get = await kiln(["artifacts", "get", status.build?.id ?? "", "--dest", dest, "--coordinator", address]);
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(await readFile(path.join(dest, "out", "big.img")))).toBe(sha256(p.big));
    // Straight from s3rver with the presigned URL the coordinator handed out, not through the coordinator.
    expect(get.stderr).toMatch(/out\/big\.img: 24\.0 MiB in .*, sha256 ok -> .*big\.img \(fetched from the store directly\)$/m);

    // A CLI that cannot reach the store (the URL's port has nothing listening: S3 behind a firewall, a name only the
    // farm resolves) gets the same bytes through the coordinator's stream.
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    class FirewalledCli extends CoordinatorConnection {
      override async downloadSource(id: string, index: number): Promise<FileSource__Output | undefined> {
        const source = await super.downloadSource(id, index);
        expect(source?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/kiln-artifacts\/farm1\/.*X-Amz-Signature=/);
        return source && { ...source, url: source.url.replace(/^http:\/\/127\.0\.0\.1:\d+\//, `http://127.0.0.1:${closedPort}/`) };
      }
    }
    const firewalled = new FirewalledCli(address);
    let stderr = "";
    try {
      const target = path.join(user.dir, "s3-fallback", "big.img");
      await downloadArtifacts(firewalled, [big], () => target, { stdout: () => undefined, stderr: (t) => (stderr += t) }, false);
      expect(sha256(await readFile(target))).toBe(sha256(p.big));
    } finally {
      firewalled.close();
    }
    expect(stderr).toMatch(new RegExp(`^out/big\\.img: cannot read it from 127\\.0\\.0\\.1:${closedPort} directly \\(.*ECONNREFUSED.*\\); through the coordinator from 0 B$`, "m"));
    expect(stderr).toMatch(/out\/big\.img: 24\.0 MiB in .*, sha256 ok -> .*big\.img$/m);

    // Someone overwrites the object in the bucket behind kiln's back.
    const { S3Client, PutObjectCommand, HeadObjectCommand } = await import("@aws-sdk/client-s3");
    const s3client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { ...S3_TEST_CREDENTIALS } });
    try {
      const key = `farm1/${big.files[0]?.object ?? ""}`;
      // The multipart object really is in the bucket, at its full size.
      expect((await s3client.send(new HeadObjectCommand({ Bucket: "kiln-artifacts", Key: key }))).ContentLength).toBe(BIG_BYTES);
      await s3client.send(new PutObjectCommand({ Bucket: "kiln-artifacts", Key: key, Body: randomBytes(BIG_BYTES, 99) }));
    } finally {
      s3client.destroy();
    }
    const bad = await kiln(["artifacts", "get", big.id, "--dest", path.join(user.dir, "s3-bad"), "--coordinator", address]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("the stored object is corrupt");
  });

  it("large files to S3: with the object store as the farm's store and S3 for files from 1 MiB, each file goes by its size; get and rm follow the catalog", async () => {
    p = await project(4);
    await using s3 = await S3Server.start();
    const catalog = (await farm.coordinators[0]?.service.artifacts())?.catalog;
    const s3config = { backend: "s3", bucket: "kiln-large", endpoint: s3.endpoint, forcePathStyle: true, partSizeBytes: 5 * MiB, ...S3_TEST_CREDENTIALS } as const;
    await catalog?.setLargeFileRule({ store: s3config, thresholdBytes: MiB });
    const { status } = await submit(client, p);
    const records = await client.listArtifacts(status.build?.id ?? "");
    const big = records.find((r) => r.build_name === "big") as ArtifactRecord__Output;
    const small = records.find((r) => r.build_name === "small") as ArtifactRecord__Output;
    expect(big.files[0]).toMatchObject({ store: "s3", size: String(BIG_BYTES), sha256: sha256(p.big) });
    // submit() sends the variables as given (the CLI would add the defaults): the content is "flavor ".
    expect(small.files[0]).toMatchObject({ store: "nats", size: "7" });

    // The bytes really are where the catalog says, and only there.
    const { S3Client, HeadObjectCommand } = await import("@aws-sdk/client-s3");
    const s3client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { ...S3_TEST_CREDENTIALS } });
    const head = (key: string): Promise<number | undefined> =>
      s3client.send(new HeadObjectCommand({ Bucket: "kiln-large", Key: key })).then(
        (h) => h.ContentLength,
        () => undefined,
      );
    try {
      expect(await head(big.files[0]?.object ?? "")).toBe(BIG_BYTES);
      const { Objm } = await import("@nats-io/obj");
      const { jetstream } = await import("@nats-io/jetstream");
      const obj = await new Objm(jetstream(farm.coordinators[0]?.nc as never)).open("kiln_artifact_files");
      expect(await obj.info(big.files[0]?.object ?? "")).toBeNull();
      expect((await obj.info(small.files[0]?.object ?? ""))?.size).toBe(7);

      const show = await kiln(["artifacts", "show", big.id, "--coordinator", address]);
      expect(show.stdout).toMatch(/out\/big\.img {2}24\.0 MiB {2}sha256:[0-9a-f]{64} {2}\(in s3\)/);
      const dest = path.join(user.dir, "mixed");
      const get = await kiln(["artifacts", "get", status.build?.id ?? "", "--dest", dest, "--coordinator", address]);
      expect(get.code, get.stderr).toBe(0);
      expect(sha256(await readFile(path.join(dest, "out", "big.img")))).toBe(sha256(p.big));
      expect(await readFile(path.join(dest, "out", "small.txt"), "utf8")).toBe("flavor ");

      const rm = await kiln(["artifacts", "rm", big.id, "--coordinator", address]);
      expect(rm.code, rm.stderr).toBe(0);
      expect(await head(big.files[0]?.object ?? "")).toBeUndefined();
    } finally {
      s3client.destroy();
    }

    const noStore = await kiln(["coordinator", "--large-threshold", "1MiB"]);
    expect(noStore.stderr).toBe("Error: kiln coordinator: --large-threshold needs --artifact-store-large SPEC (the store large files go to)\n");
    const badSize = await kiln(["coordinator", "--artifact-store-large", s3config.endpoint.replace("http", "s3"), "--large-threshold", "lots"]);
    expect(badSize.stderr).toBe("Error: --large-threshold 'lots' is not a size; write it like 64MiB, 1GiB or 500MB\n");
  });
});
