import { createHash } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../core/src/mod.js";
import { renderCore } from "../src/template.js";
import { linuxKeycode, parseBootCommand, renderBootCommand, totalWaitMs, type BootAction } from "../src/vm/boot_command.js";
import { BootHttpServer } from "../src/vm/http_server.js";
import { SourceCache, parseChecksum } from "../src/vm/source_cache.js";
import { TempDirs } from "./job_harness.js";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const tap = (...keys: string[]): BootAction => ({ type: "tap", keys });

describe("boot_command", () => {
  it("parses special keys, waits, toggles and literal text with shift", () => {
    expect(parseBootCommand("<esc><wait>aB:<enter><WAIT10><wait1m30s><wait100ms><f12><leftShiftOn>x<leftShiftOff><cOn><cOff>")).toEqual([
      tap("esc"),
      { type: "wait", ms: 1000 },
      tap("a"),
      tap("shift", "b"),
      tap("shift", "semicolon"),
      tap("ret"),
      { type: "wait", ms: 10_000 },
      { type: "wait", ms: 90_000 },
      { type: "wait", ms: 100 },
      tap("f12"),
      { type: "down", key: "shift" },
      tap("x"),
      { type: "up", key: "shift" },
      { type: "down", key: "c", char: "c" },
      { type: "up", key: "c", char: "c" },
    ]);
  });

  it("types a `<` that starts no expression literally", () => {
    expect(parseBootCommand("<nope> <")).toEqual([
      tap("shift", "comma"), tap("n"), tap("o"), tap("p"), tap("e"), tap("shift", "dot"), tap("spc"), tap("shift", "comma"),
    ]);
    expect(totalWaitMs(parseBootCommand("<wait2><wait3>"))).toBe(5000);
  });

  it("refuses characters no US key types, naming the offset", () => {
    expect(() => parseBootCommand("ab€")).toThrow(/character "€" at offset 2/);
  });

  it("renders HTTPIP, HTTPPort and Name, then joins the elements", () => {
    const text = renderBootCommand(
      ["linux ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg ", "host={{ .Name }}<enter>"],
      { HTTPIP: "10.0.2.2", HTTPPort: "8123", Name: "vm1" },
      (t, data) => renderCore(t, { userVariables: {}, packerVersion: "1.6.6", statics: { initTimeUnix: 0, initTimeMs: 0, uuid: "" }, data }),
    );
    expect(text).toBe("linux ks=http://10.0.2.2:8123/ks.cfg host=vm1<enter>");
  });

  it("maps every key it can produce to a Linux keycode", () => {
    const all = parseBootCommand("abcdefghijklmnopqrstuvwxyz0123456789 -=[]\\;'`,./!@#$%^&*()_+{}|:\"~<>?\n\t" +
      "<bs><del><enter><esc><tab><f1><f2><f3><f4><f5><f6><f7><f8><f9><f10><f11><f12><up><down><left><right><spacebar>" +
      "<insert><home><end><pageUp><pageDown><menu><leftAlt><leftCtrl><leftShift><leftSuper><rightAlt><rightCtrl><rightShift><rightSuper>");
    for (const a of all) {
      const keys = a.type === "tap" ? a.keys : a.type === "wait" ? [] : [a.key];
      for (const k of keys) expect(linuxKeycode(k), k).toBeGreaterThan(0);
    }
    expect(linuxKeycode("ret")).toBe(28);
    expect(linuxKeycode("a")).toBe(30);
  });
});

describe("http server", () => {
  it("serves http_directory inside the port range and refuses paths outside it", async () => {
    const dir = await dirs.make();
    await writeFile(path.join(dir, "ks.cfg"), "kickstart");
    await using server = await BootHttpServer.start({ directory: dir, portMin: 18_000, portMax: 18_050, bindAddress: "127.0.0.1" });
    expect(server.port).toBeGreaterThanOrEqual(18_000);
    expect(server.port).toBeLessThanOrEqual(18_050);
    const ok = await fetch(`http://127.0.0.1:${server.port}/ks.cfg`);
    expect(await ok.text()).toBe("kickstart");
    expect((await fetch(`http://127.0.0.1:${server.port}/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/missing`)).status).toBe(404);
  });

  it("serves http_content, skips busy ports and closes idempotently", async () => {
    await using first = await BootHttpServer.start({ content: { "preseed.cfg": "d-i" }, portMin: 18_100, portMax: 18_101, bindAddress: "127.0.0.1" });
    const second = await BootHttpServer.start({ content: { "/a": "b" }, portMin: 18_100, portMax: 18_101, bindAddress: "127.0.0.1" });
    expect(second.port).not.toBe(first.port);
    expect(await (await fetch(`http://127.0.0.1:${first.port}/preseed.cfg`)).text()).toBe("d-i");
    await expect(BootHttpServer.start({ content: {}, portMin: 18_100, portMax: 18_101, bindAddress: "127.0.0.1" })).rejects.toMatchObject({
      code: ErrorCode.BuildFailed,
    });
    await second.close();
    await second.close();
    await expect(fetch(`http://127.0.0.1:${second.port}/a`)).rejects.toThrow();
  });
});

/** A local HTTP server that counts requests per path and answers slowly (so concurrent fetches overlap). */
async function countingServer(files: Record<string, Buffer | string>): Promise<{ url: string; hits: Map<string, number>; close: () => Promise<void> }> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const p = req.url ?? "/";
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const body = files[p];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    setTimeout(() => res.writeHead(200).end(body), 300);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe("source cache", () => {
  const iso = Buffer.from("pretend this is an ISO image\n".repeat(1000));
  const sha256 = createHash("sha256").update(iso).digest("hex");
  const md5 = createHash("md5").update(iso).digest("hex");

  it("parses Packer's checksum forms and refuses bad ones", () => {
    expect(parseChecksum(`sha256:${sha256}`)).toEqual({ kind: "hash", type: "sha256", hex: sha256 });
    expect(parseChecksum(md5)).toEqual({ kind: "hash", type: "md5", hex: md5 });
    expect(parseChecksum("none")).toEqual({ kind: "none" });
    expect(parseChecksum("file:http://x/SHA256SUMS")).toEqual({ kind: "file", location: "http://x/SHA256SUMS" });
    expect(() => parseChecksum("sha256:abc")).toThrow(/sha256 checksum has 64 hex digits/);
    expect(() => parseChecksum("crc32:abcd")).toThrow(/iso_checksum/);
  });

  it("downloads once for concurrent fetches, in one process and across cache instances", async () => {
    const cacheDir = await dirs.make();
    const srv = await countingServer({ "/a.iso": iso, "/SHA256SUMS": `${sha256}  a.iso\n` });
    try {
      const signal = new AbortController().signal;
      const req = { urls: [`${srv.url}/a.iso`], checksum: `sha256:${sha256}`, workDir: cacheDir, signal };
      const one = new SourceCache(cacheDir);
      const other = new SourceCache(cacheDir); // another agent process on the same directory: the lock file decides
      const results = await Promise.all([one.fetch(req), one.fetch(req), other.fetch(req), other.fetch({ ...req, checksum: `file:${srv.url}/SHA256SUMS` })]);
      expect(srv.hits.get("/a.iso")).toBe(1);
      expect(new Set(results.map((r) => r.path)).size).toBe(1);
      expect(results.filter((r) => r.downloaded)).toHaveLength(1);
      const again = await new SourceCache(cacheDir).fetch(req);
      expect(again.downloaded).toBe(false);
      expect(srv.hits.get("/a.iso")).toBe(1);
      expect((await readdir(cacheDir)).filter((f) => f.endsWith(".lock") || f.endsWith(".part"))).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it("rejects a checksum mismatch and keeps nothing; falls back to the next of iso_urls", async () => {
    const cacheDir = await dirs.make();
    const srv = await countingServer({ "/a.iso": iso });
    try {
      const signal = new AbortController().signal;
      const cache = new SourceCache(cacheDir);
      const wrong = "0".repeat(64);
      await expect(cache.fetch({ urls: [`${srv.url}/a.iso`], checksum: `sha256:${wrong}`, workDir: cacheDir, signal })).rejects.toMatchObject({
        code: ErrorCode.BuildFailed,
        message: expect.stringMatching(/checksums didn't match/),
      });
      expect(await readdir(cacheDir)).toEqual([]);
      const got = await cache.fetch({ urls: [`${srv.url}/missing.iso`, `${srv.url}/a.iso`], checksum: `md5:${md5}`, workDir: cacheDir, signal });
      expect(got.downloaded).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it("verifies local paths and file:// URLs in place", async () => {
    const dir = await dirs.make();
    await writeFile(path.join(dir, "local.iso"), iso);
    const cache = new SourceCache(path.join(dir, "cache"));
    const signal = new AbortController().signal;
    const rel = await cache.fetch({ urls: ["local.iso"], checksum: `sha256:${sha256}`, workDir: dir, signal });
    expect(rel).toEqual({ path: path.join(dir, "local.iso"), downloaded: false });
    const url = await cache.fetch({ urls: [pathToFileURL(path.join(dir, "local.iso")).toString()], checksum: "none", workDir: "/", signal });
    expect(url.path).toBe(path.join(dir, "local.iso"));
    await expect(cache.fetch({ urls: ["nope.iso"], checksum: "none", workDir: dir, signal })).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await expect(cache.fetch({ urls: ["local.iso"], checksum: `md5:${"1".repeat(32)}`, workDir: dir, signal })).rejects.toThrow(/checksums didn't match/);
  });
});
