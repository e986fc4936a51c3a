/** `kiln validate` / `kiln inspect`, in-process: Packer's text by default, JSON for scripts. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/main.js";
import { tempDir } from "../../test/src/mod.js";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (out += t) });
  return { code, out };
}

describe("cli - validate and inspect", () => {
  it("reports every problem as JSON with file, JSON path and line", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, "t.json");
      await writeFile(file, JSON.stringify({ builders: [{ type: "file", target: "x", content: "y", bogus: 1 }, { type: "amazon-ebs" }] }, null, 2));
      const { code, out } = await run(["validate", "--json", file]);
      expect(code).toBe(1);
      const verdict = JSON.parse(out) as { valid: boolean; problems: { class: string; location: { path: string; line: number } }[] };
      expect(verdict.valid).toBe(false);
      expect(verdict.problems.map((p) => [p.class, p.location.path, p.location.line]).sort()).toEqual([
        ["unknown-key", "builders[0].bogus", 7],
        ["unsupported", "builders[1]", 9],
      ]);
    } finally {
      await cleanup();
    }
  });

  it("lists a template's components as JSON, masking sensitive defaults", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = path.join(dir, "t.json");
      await writeFile(
        file,
        JSON.stringify({
          variables: { region: "eu", token: "s3cret", needed: null },
          "sensitive-variables": ["token"],
          builders: [{ type: "null", name: "n", communicator: "none" }],
          provisioners: [{ type: "shell-local", inline: ["true"] }],
          "post-processors": ["manifest"],
        }),
      );
      const { code, out } = await run(["inspect", "--json", file]);
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({
        variables: [
          { name: "region", default: "eu", required: false },
          { name: "token", sensitive: true, default: "<sensitive>" },
          { name: "needed", required: true },
        ],
        builders: [{ name: "n", type: "null" }],
        provisioners: [{ type: "shell-local" }],
        post_processors: [[{ type: "manifest", name: "manifest" }]],
      });
      expect(out).not.toContain("s3cret");
    } finally {
      await cleanup();
    }
  });
});
