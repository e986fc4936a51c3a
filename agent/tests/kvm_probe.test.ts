/**
 * The accelerator probe's test guest on a real QEMU. TCG runs everywhere, so it proves the guest image and its exit
 * protocol; what KVM does depends on the host (on the CI machine it crawls, and the probe says so).
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/src/mod.js";
import { probeKvm, runProbeGuest } from "../src/vm/accel.js";

const QEMU = "qemu-system-x86_64";

function requireQemu(): void {
  if (!existsSync(`/usr/bin/${QEMU}`)) throw new Error(`the accelerator probe tests need ${QEMU}: apt-get install qemu-system-x86 (deploy/install.sh installs it)`);
}

/**
 * Runs `probe` with TMPDIR pointing at a directory of its own and returns what the probe left there (the agent's
 * other probes, in other test files, use the real tmpdir).
 */
async function leftBehind(probe: () => Promise<void>): Promise<string[]> {
  const { dir, cleanup } = await tempDir("kiln-probe-tmp-");
  const before = process.env["TMPDIR"];
  process.env["TMPDIR"] = dir;
  try {
    await probe();
    return await readdir(dir);
  } finally {
    if (before === undefined) delete process.env["TMPDIR"];
    else process.env["TMPDIR"] = before;
    await cleanup();
  }
}

describe("agent - KVM probe", () => {
  it("the test guest runs to its exit under TCG: QEMU loads it, it loops and asks QEMU to exit", async () => {
    requireQemu();
    const left = await leftBehind(async () => {
      await expect(runProbeGuest(QEMU, "tcg", 30_000)).resolves.toEqual({ usable: true });
    });
    expect(left).toEqual([]);
  }, 60_000);

  it("a guest that does not finish in time is killed and reported, leaving nothing behind", async () => {
    requireQemu();
    const left = await leftBehind(async () => {
      const result = await runProbeGuest(QEMU, "tcg", 1);
      expect(result.usable).toBe(false);
      expect(result.reason).toMatch(/did not finish within 1 ms/);
    });
    expect(left).toEqual([]);
  });

  it("a QEMU that is not installed means no KVM, with the reason, never an exception", async () => {
    const result = await probeKvm("/nonexistent/qemu-system-x86_64");
    expect(result.usable).toBe(false);
    expect(result.reason).toMatch(/nonexistent\/qemu-system-x86_64.*No such file/);
  });
});
