/**
 * The accelerator probe's test guest on a real QEMU. TCG runs everywhere, so it proves the guest image and its exit
 * protocol; what KVM does depends on the host (on the CI machine it crawls, and the probe says so).
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { probeKvm, runProbeGuest } from "../src/vm/accel.js";

const QEMU = "qemu-system-x86_64";

function requireQemu(): void {
  if (!existsSync(`/usr/bin/${QEMU}`)) throw new Error(`the accelerator probe tests need ${QEMU}: apt-get install qemu-system-x86 (deploy/install.sh installs it)`);
}

const probeDirs = async (): Promise<string[]> => (await readdir(tmpdir())).filter((n) => n.startsWith("kiln-kvm-probe-"));

describe("agent - KVM probe", () => {
  it("the test guest runs to its exit under TCG: QEMU loads it, it loops and asks QEMU to exit", async () => {
    requireQemu();
    const before = await probeDirs();
    await expect(runProbeGuest(QEMU, "tcg", 30_000)).resolves.toEqual({ usable: true });
    expect(await probeDirs()).toEqual(before);
  }, 60_000);

  it("a guest that does not finish in time is killed and reported, leaving nothing behind", async () => {
    requireQemu();
    const before = await probeDirs();
    const result = await runProbeGuest(QEMU, "tcg", 1);
    expect(result.usable).toBe(false);
    expect(result.reason).toMatch(/did not finish within 1 ms/);
    expect(await probeDirs()).toEqual(before);
  });

  it("a QEMU that is not installed means no KVM, with the reason, never an exception", async () => {
    const result = await probeKvm("/nonexistent/qemu-system-x86_64");
    expect(result.usable).toBe(false);
    expect(result.reason).toMatch(/ENOENT/);
  });
});
