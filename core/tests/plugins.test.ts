import { describe, expect, it } from "vitest";
import {
  checkTemporaryKeyPair,
  detectCompressFormat,
  formatGoDuration,
  parseGoDuration,
  shippedPluginTypes,
  temporaryKeyPairSpec,
  validatePluginConfig,
  type CommunicatorConfig,
} from "../src/mod.js";

describe("plugins - registry", () => {
  it("lists the plugin types kiln runs per kind", () => {
    expect(shippedPluginTypes()).toEqual({
      builder: ["docker", "file", "libvirt", "null", "qemu", "virtualbox-iso", "virtualbox-ovf", "vmware-iso", "vmware-vmx", "vsphere-clone", "vsphere-iso"],
      provisioner: ["ansible", "ansible-local", "breakpoint", "file", "shell", "shell-local"],
      "post-processor": ["artifice", "checksum", "compress", "docker-import", "docker-push", "docker-save", "docker-tag", "manifest", "shell-local"],
    });
    expect(Object.isFrozen(shippedPluginTypes().builder)).toBe(true);
  });

  it("reports an unknown type as Packer does", () => {
    expect(validatePluginConfig("builder", "parallels-iso", {}).problems).toEqual(["Unknown builder parallels-iso"]);
    expect(validatePluginConfig("provisioner", "foo", {}).problems).toEqual(["Unknown provisioner foo"]);
    expect(validatePluginConfig("post-processor", "foo", {}).problems).toEqual(["Unknown post-processor foo"]);
  });
});

describe("plugins - decoding like packer 1.6.6", () => {
  it("reports every problem at once, sorted per stage like mapstructure", () => {
    const r = validatePluginConfig("builder", "file", { y: 1, x: 1, content: [1], source: { a: 1 } });
    expect(r.problems).toEqual([
      "'content' expected type 'string', got unconvertible type '[]interface {}', value: '[1]'",
      "'source' expected type 'string', got unconvertible type 'map[interface {}]interface {}', value: 'map[a:1]'",
      `unknown configuration key: '"x"'`,
      `unknown configuration key: '"y"'`,
      "target required",
    ]);
    expect(r.compiled).toBeUndefined();
  });

  it("decodes weakly: numbers and bools as strings, strings as ints and bools, a value as a list", () => {
    const file = validatePluginConfig("builder", "file", { target: true, content: 5 });
    expect(file.compiled).toMatchObject({ target: "1", content: "5" });
    const compress = validatePluginConfig("post-processor", "compress", { compression_level: "0x3" });
    expect(compress.compiled).toMatchObject({ compression_level: 3 });
    const manifest = validatePluginConfig("post-processor", "manifest", { strip_path: "t", custom_data: { a: 1, b: true } });
    expect(manifest.compiled).toMatchObject({ strip_path: true, custom_data: { a: "1", b: "1" } });
    const checksum = validatePluginConfig("post-processor", "checksum", { checksum_types: "sha1" });
    expect(checksum.compiled).toMatchObject({ checksum_types: ["sha1"] });
    expect(validatePluginConfig("post-processor", "checksum", { checksum_types: {} }).compiled).toMatchObject({ checksum_types: [] });
    expect(validatePluginConfig("post-processor", "checksum", { checksum_types: { a: 1 } }).problems).toEqual([
      "'checksum_types[0]' expected type 'string', got unconvertible type 'map[interface {}]interface {}', value: 'map[a:1]'",
    ]);
  });

  it("uses Packer's texts for parse errors", () => {
    expect(validatePluginConfig("post-processor", "compress", { compression_level: "x" }).problems).toEqual([
      `cannot parse 'compression_level' as int: strconv.ParseInt: parsing "x": invalid syntax`,
    ]);
    expect(validatePluginConfig("post-processor", "manifest", { strip_path: "yes" }).problems).toEqual([
      `cannot parse 'strip_path' as bool: strconv.ParseBool: parsing "yes": invalid syntax`,
    ]);
    expect(validatePluginConfig("post-processor", "manifest", { custom_data: "x" }).problems).toEqual([
      "'custom_data' expected a map, got 'string'",
    ]);
    expect(validatePluginConfig("post-processor", "manifest", { custom_data: { a: [1] } }).problems).toEqual([
      "'custom_data[<interface {} Value>]' expected type 'string', got unconvertible type '[]interface {}', value: '[1]'",
    ]);
    expect(validatePluginConfig("provisioner", "shell-local", { inline: ["a"], valid_exit_codes: "x" }).problems).toEqual([
      `cannot parse 'valid_exit_codes[0]' as int: strconv.ParseInt: parsing "x": invalid syntax`,
    ]);
    expect(validatePluginConfig("builder", "null", { communicator: "none", ssh_timeout: "x" }).problems).toEqual([
      `error decoding 'ssh_timeout': time: invalid duration "x"`,
    ]);
  });

  it("accepts the keys Packer core injects, and ignores template meta-keys", () => {
    const r = validatePluginConfig("provisioner", "shell-local", {
      type: "shell-local",
      only: ["a"],
      pause_before: "1s",
      inline: ["true"],
      packer_build_name: "x",
    });
    expect(r.problems).toEqual([]);
    expect(validatePluginConfig("provisioner", "shell-local", { inline: ["a"], name: "x" }).problems).toEqual([
      `unknown configuration key: '"name"'`,
    ]);
  });

  it("compiles a frozen config with defaults", () => {
    const r = validatePluginConfig("post-processor", "checksum", {});
    expect(r.problems).toEqual([]);
    expect(r.compiled).toEqual({
      checksum_types: ["md5"],
      output: "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum",
    });
    expect(Object.isFrozen(r.compiled)).toBe(true);
    expect(Object.isFrozen(r.compiled?.checksum_types)).toBe(true);
    // Packer defaults only a nil list: an explicit empty list stays empty.
    expect(validatePluginConfig("post-processor", "checksum", { checksum_types: [] }).compiled).toMatchObject({ checksum_types: [] });
  });

  it("has no side effects: the input is not modified", () => {
    const input = { inline: ["a"], execute_command: "echo {{.Script}}" };
    const copy = structuredClone(input);
    validatePluginConfig("post-processor", "shell-local", input);
    expect(input).toEqual(copy);
  });
});

describe("plugins - file and null builders", () => {
  it("file: target required, not both source and content, a warning for neither", () => {
    expect(validatePluginConfig("builder", "file", {}).problems).toEqual(["target required"]);
    expect(validatePluginConfig("builder", "file", { target: "x", content: "a", source: "b" }).problems).toEqual([
      "Cannot specify source file AND content",
    ]);
    const neither = validatePluginConfig("builder", "file", { target: "x" });
    expect(neither.problems).toEqual([]);
    expect(neither.warnings).toEqual(["Both source file and contents are blank; target will have no content"]);
    expect(validatePluginConfig("builder", "file", { target: "x", content: "c" }).warnings).toEqual([]);
  });

  it("null: communicator none, or ssh validated as Packer 1.6.6 does; WinRM is not supported yet", () => {
    const v = (c: Record<string, unknown>): readonly string[] => validatePluginConfig("builder", "null", c).problems;
    expect(v({ communicator: "none" })).toEqual([]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p" })).toEqual([]);
    expect(v({ communicator: "ssh", ssh_host: "h", ssh_username: "u", ssh_private_key_file: "k" })).toEqual([]);
    expect(v({ communicator: "ssh", ssh_host: "h", ssh_username: "u", ssh_agent_auth: true })).toEqual([]);
    expect(v({ communicator: "ssh" })).toEqual([
      `An ssh_username must be specified\n  Note: some builders used to default ssh_username to "root".`,
      "a Host must be specified, please reference your communicator documentation",
      "a Username must be specified, please reference your communicator documentation",
      "one authentication method must be specified, please reference your\ncommunicator documentation",
    ]);
    expect(v({ ssh_host: "h", ssh_username: "u" })).toEqual([
      "one authentication method must be specified, please reference your\ncommunicator documentation",
    ]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_file_transfer_method: "ftp" })).toEqual([
      "ssh_file_transfer_method ('ftp') is invalid, valid methods: sftp, scp",
    ]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_bastion_host: "b" })).toEqual([
      "ssh_bastion_password or ssh_bastion_private_key_file must be specified",
      "ssh_bastion_username must be specified with ssh_bastion_host",
    ]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_bastion_host: "b", ssh_bastion_username: "j", ssh_bastion_agent_auth: true, ssh_bastion_interactive: true })).toEqual([
      "ssh_bastion_interactive needs ssh_bastion_password on kiln: builds run on agents without a terminal, so the keyboard-interactive prompts are answered with the password",
    ]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_bastion_host: "b", ssh_bastion_username: "j", ssh_bastion_password: "x" })).toEqual([]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_proxy_host: "p", ssh_proxy_port: 1081 })).toEqual([]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_proxy_host: "p", ssh_bastion_host: "b", ssh_bastion_username: "j", ssh_bastion_password: "x" })).toEqual([
      "please specify either ssh_bastion_host or ssh_proxy_host, not both",
    ]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_bastion_certificate_file: "c", ssh_ciphers: ["aes128-ctr"] })).toEqual([
      "ssh_bastion_certificate_file is not supported by kiln yet: remove it or build with Packer",
      "ssh_ciphers is not supported by kiln yet: remove it or build with Packer",
    ]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_timeout: "2s", ssh_handshake_attempts: 3 })).toEqual([]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_host_key_fingerprint: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8" })).toEqual([]);
    expect(v({ ssh_host: "h", ssh_username: "u", ssh_password: "p", ssh_host_key_fingerprint: "aa:bb", ssh_known_hosts_file: "k" })).toEqual([
      "ssh_host_key_fingerprint ('aa:bb') is invalid: use the SHA256 form ssh-keygen -lf prints, e.g. SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
      "please specify either ssh_host_key_fingerprint or ssh_known_hosts_file, not both",
    ]);
    const auth = { ssh_host: "h", ssh_username: "u", ssh_password: "p" };
    expect(v({ ...auth, temporary_key_pair_type: "ed25519" })).toEqual([
      "temporary_key_pair_type is not used by the null builder: it cannot put a temporary key on an existing host; use ssh_private_key_file",
    ]);
    const keyProblems = (c: Record<string, unknown>): string[] => checkTemporaryKeyPair(c as CommunicatorConfig);
    expect(keyProblems({ temporary_key_pair_type: "rsa", temporary_key_pair_bits: 3072 })).toEqual([]);
    expect(keyProblems({ temporary_key_pair_type: "ecdsa", temporary_key_pair_bits: 384 })).toEqual([]);
    expect(keyProblems({ temporary_key_pair_type: "foo" })).toEqual(["temporary_key_pair_type ('foo') is invalid, valid types: rsa, ed25519, ecdsa"]);
    expect(keyProblems({ temporary_key_pair_type: "dsa" })[0]).toMatch(/^temporary_key_pair_type dsa is not supported by kiln/);
    expect(keyProblems({ temporary_key_pair_bits: 1024 })).toEqual(["temporary_key_pair_bits 1024 is invalid for rsa: use 2048 to 16384 (default 4096)"]);
    expect(keyProblems({ temporary_key_pair_type: "ed25519", temporary_key_pair_bits: 256 })).toEqual([
      "temporary_key_pair_bits does not apply to temporary_key_pair_type ed25519: remove it",
    ]);
    expect(keyProblems({ temporary_key_pair_type: "ecdsa", temporary_key_pair_bits: 100 })).toEqual(["temporary_key_pair_bits 100 is invalid for ecdsa: use 256, 384 or 521"]);
    expect(temporaryKeyPairSpec({} as CommunicatorConfig)).toEqual({ type: "rsa", bits: 4096 });
    expect(temporaryKeyPairSpec({ temporary_key_pair_type: "ecdsa" } as CommunicatorConfig)).toEqual({ type: "ecdsa", bits: 521 });
    const winrm = v({ communicator: "winrm", winrm_host: "h", winrm_username: "u", winrm_password: "p" });
    expect(winrm).toHaveLength(1);
    expect(winrm[0]).toMatch(/communicator "winrm" is not supported by kiln yet/);
    expect(v({ communicator: "foo" })).toEqual(["Communicator type foo is invalid"]);
    expect(v({ communicator: "none", ssh_interface: "x" })).toEqual([`unknown configuration key: '"ssh_interface"'`]);
  });
});

describe("plugins - shell-local", () => {
  const v = (c: Record<string, unknown>): readonly string[] => validatePluginConfig("provisioner", "shell-local", c).problems;
  const TOO_MANY =
    "You may only specify one of the following options: Command, Inline, Script or Scripts. Please consolidate these options in your config.";

  it("requires exactly one of command, inline, script, scripts", () => {
    expect(v({})).toEqual(["Command, Inline, Script and Scripts options cannot all be empty."]);
    expect(v({ inline: ["a"], command: "b" })).toEqual([TOO_MANY]);
    expect(v({ inline: ["a"], script: "b", scripts: ["c"] })).toEqual([TOO_MANY, TOO_MANY]);
    expect(v({ inline: [], scripts: ["c"] })).toEqual([TOO_MANY]);
  });

  it("checks environment_vars and only_on", () => {
    expect(v({ inline: ["a"], environment_vars: ["A", "=b", "C=d"] })).toEqual([
      "Environment variable not in format 'key=value': A",
      "Environment variable not in format 'key=value': =b",
    ]);
    expect(v({ inline: ["a"], only_on: ["foo"] })).toEqual([
      "Invalid OS specified in only_on: 'foo'\nSupported OS names: darwin, freebsd, linux, openbsd, solaris, windows",
    ]);
    expect(v({ inline: ["a"], binary: true })).toEqual([`unknown configuration key: '"binary"'`]);
  });

  it("normalises command to inline and script to scripts, with Unix defaults", () => {
    const c = validatePluginConfig("provisioner", "shell-local", { command: "echo hi", tempfile_extension: ".sh" }).compiled;
    expect(c).toMatchObject({
      inline: ["echo hi"],
      execute_command: ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"],
      inline_shebang: "/bin/sh -e",
      env_var_format: "%s='%s' ",
      tempfile_extension: "sh",
    });
    expect(validatePluginConfig("provisioner", "shell-local", { script: "a.sh" }).compiled).toMatchObject({ scripts: ["a.sh"] });
  });

  it("post-processor: a one-element execute_command runs with sh -c, as before the merge", () => {
    const c = validatePluginConfig("post-processor", "shell-local", { inline: ["a"], execute_command: "echo {{.Script}}" }).compiled;
    expect(c).toMatchObject({ execute_command: ["sh", "-c", "echo {{.Script}}"] });
    const p = validatePluginConfig("provisioner", "shell-local", { inline: ["a"], execute_command: "echo {{.Script}}" }).compiled;
    expect(p).toMatchObject({ execute_command: ["echo {{.Script}}"] });
  });
});

describe("plugins - post-processors", () => {
  it("checksum rejects unknown types", () => {
    expect(validatePluginConfig("post-processor", "checksum", { checksum_types: ["foo", "md5", "bar"] }).problems).toEqual([
      "Unrecognized checksum type: foo",
      "Unrecognized checksum type: bar",
    ]);
  });

  it("artifice needs files", () => {
    expect(validatePluginConfig("post-processor", "artifice", {}).problems).toEqual(["No files specified in artifice configuration"]);
    expect(validatePluginConfig("post-processor", "artifice", { files: ["a"], keep_input_artifact: true }).problems).toEqual([]);
  });

  it("compress reads the format from the raw output name like Packer", () => {
    expect(detectCompressFormat("packer_{{.BuildName}}_{{.BuilderType}}")).toEqual({ archive: "tar", algorithm: "pgzip" });
    expect(detectCompressFormat("a/{{.BuildName}}.tar.gz")).toEqual({ archive: "tar", algorithm: "pgzip" });
    expect(detectCompressFormat("a.tar")).toEqual({ archive: "tar" });
    expect(detectCompressFormat("a.zip")).toEqual({ archive: "zip" });
    expect(detectCompressFormat("a.gz")).toEqual({ archive: undefined, algorithm: "pgzip" });
    expect(detectCompressFormat("a.1.whatever")).toEqual({ archive: "tar", algorithm: "pgzip" });
    expect(detectCompressFormat("a", "zip")).toEqual({ archive: "zip" });
  });

  it("compress: levels normalised as Packer does, unsupported algorithms reported", () => {
    const level = (n: number): unknown => validatePluginConfig("post-processor", "compress", { compression_level: n }).compiled?.compression_level;
    expect(level(0)).toBe(6);
    expect(level(-1)).toBe(6);
    expect(level(12)).toBe(9);
    expect(level(1)).toBe(1);
    expect(validatePluginConfig("post-processor", "compress", { output: "a.tar.xz" }).problems[0]).toMatch(/cannot write xz archives/);
  });

  it("manifest defaults", () => {
    expect(validatePluginConfig("post-processor", "manifest", {}).compiled).toEqual({
      output: "packer-manifest.json",
      strip_path: false,
      strip_time: false,
    });
  });
});

describe("plugins - Go durations", () => {
  it("parses and formats like time.ParseDuration and Duration.String", () => {
    expect(parseGoDuration("5m")).toBe(300_000);
    expect(parseGoDuration("1h30m")).toBe(5_400_000);
    expect(parseGoDuration("1.5s")).toBe(1500);
    expect(parseGoDuration("300ms")).toBe(300);
    expect(parseGoDuration("0")).toBe(0);
    expect(() => parseGoDuration("x")).toThrow(`time: invalid duration "x"`);
    expect(() => parseGoDuration("10")).toThrow(`time: missing unit in duration "10"`);
    expect(() => parseGoDuration("10y")).toThrow(`time: unknown unit "y" in duration "10y"`);
    expect(formatGoDuration(300_000)).toBe("5m0s");
    expect(formatGoDuration(90_000)).toBe("1m30s");
    expect(formatGoDuration(10_000)).toBe("10s");
    expect(formatGoDuration(1500)).toBe("1.5s");
    expect(formatGoDuration(100)).toBe("100ms");
    expect(formatGoDuration(3_600_000)).toBe("1h0m0s");
    expect(formatGoDuration(0)).toBe("0s");
  });
});

describe("plugins - shell and file (Packer 1.6.6 wording)", () => {
  const shell = (c: Record<string, unknown>): readonly string[] => validatePluginConfig("provisioner", "shell", c).problems;
  const file = (c: Record<string, unknown>): readonly string[] => validatePluginConfig("provisioner", "file", c).problems;

  it("shell: one of inline, script or scripts; environment variables as key=value", () => {
    expect(shell({})).toEqual(["Either a script file or inline script must be specified."]);
    expect(shell({ script: "a", scripts: ["b"] })).toEqual(["Only one of script or scripts can be specified."]);
    expect(shell({ inline: ["x"], script: "a" })).toEqual(["Only a script file or an inline script can be specified, not both."]);
    expect(shell({ inline: ["x"], environment_vars: ["=x", "ab", "A=1"] })).toEqual([
      "Environment variable not in format 'key=value': =x",
      "Environment variable not in format 'key=value': ab",
    ]);
    const ok = validatePluginConfig("provisioner", "shell", { script: "a.sh" });
    expect(ok.problems).toEqual([]);
    expect(ok.compiled).toMatchObject({
      scripts: ["a.sh"],
      execute_command: "chmod +x {{.Path}}; {{.Vars}} {{.Path}}",
      inline_shebang: "/bin/sh -e",
      remote_folder: "/tmp",
      start_retry_timeout: 300_000,
    });
    expect(String(ok.compiled?.remote_path)).toMatch(/^\/tmp\/script_\d+\.sh$/);
    expect(validatePluginConfig("provisioner", "shell", { inline: ["x"], use_env_var_file: true }).compiled).toMatchObject({
      execute_command: "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}",
      env_var_format: "export %s='%s'\n",
    });
    expect(file({ source: "/var/log/*.log", destination: "logs/", direction: "download" })).toEqual([
      "source '/var/log/*.log': wildcards in download sources are not supported by kiln: download the directory (with a trailing slash) instead",
    ]);
    expect(validatePluginConfig("provisioner", "shell", { inline: ["x"], remote_folder: "/var/tmp", remote_file: "f.sh" }).compiled?.remote_path).toBe(
      "/var/tmp/f.sh",
    );
  });

  it("file: source(s) or content, destination, direction", () => {
    expect(file({})).toEqual(["Source must be specified.", "Destination must be specified."]);
    expect(file({ source: "a" })).toEqual(["Destination must be specified."]);
    expect(file({ source: "a", destination: "/tmp/a", direction: "sideways" })).toEqual(["Direction must be one of: download, upload."]);
    expect(file({ source: "a", content: "x", destination: "/tmp/a" })).toEqual(["source(s) conflicts with content."]);
    expect(file({ content: "x", destination: "/tmp/a" })).toEqual([]);
    expect(validatePluginConfig("provisioner", "file", { source: "c", sources: ["a", "b"], destination: "/tmp/" }).compiled?.sources).toEqual([
      "a",
      "b",
      "c",
    ]);
  });
});
