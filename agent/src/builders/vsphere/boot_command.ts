/**
 * `boot_command` for the vSphere builders (Packer 1.6.6's StepHTTPIPDiscover, StepHTTPServer and StepBootCommand):
 * the rendered command is parsed by kiln's shared parser (vm/boot_command.ts) and typed through
 * VirtualMachine.PutUsbScanCodes, one USB HID key event per call, as Packer's USB driver does:
 *
 * ```
 *   "<esc>ab<leftShiftOn>c<leftShiftOff>"
 *      ▼ parseBootCommand
 *   [tap esc] [tap a] [tap b] [down shift] [tap c] [up shift]
 *      ▼ usbKeyEvents
 *   0x29 · 0x04 · 0x05 · 0xe1 (shift) · 0x06 (shift) · 0xe1
 *      each as usbHidCode = (usage << 16) | 7, with leftControl/leftShift/leftAlt set, then `boot_keygroup_interval`
 * ```
 *
 * Packer's driver sends one event per key, not a press and a release: a character's event has the shift modifier
 * when the character needs shift; a special key (`<enter>`) has none; a `<xOn>` event has shift set and a `<xOff>`
 * event has not, and `<leftShiftOn>`/`<leftCtrlOn>`/`<leftAltOn>` hold that modifier on every following event until
 * the matching `Off`. kiln sends the same events (checked against `packer build` by agent/tests/vsphere_boot.test.ts).
 */
import { networkInterfaces } from "node:os";
import { isIP } from "node:net";
import {
  BuildFailedError,
  DurationSyntaxError,
  InvalidArgumentError,
  formatGoDuration,
  ipv4InCidr,
  parseGoDuration,
  type VsphereCommonConfig,
} from "../../../../core/src/mod.js";
import type { Step } from "../../pipeline/mod.js";
import { sleep } from "../../util/abort.js";
import { parseBootCommand, renderBootCommand, type BootAction, type QCode } from "../../vm/boot_command.js";
import type { HttpServerState } from "../../vm/http_server.js";
import type { SoapObject } from "../../vsphere/soap.js";
import type { VirtualMachine } from "../../vsphere/vm.js";

/** Packer's default pause after each key event (`PACKER_KEY_INTERVAL` overrides it, `boot_keygroup_interval` both). */
export const DEFAULT_USB_KEY_INTERVAL_MS = 100;
/** Packer's vSphere `boot_wait` when unset or zero. */
export const DEFAULT_VSPHERE_BOOT_WAIT_MS = 10_000;

/** USB HID usage IDs (keyboard page 7) of the keys kiln's parser produces. */
const HID_USAGE: Readonly<Record<QCode, number>> = Object.freeze({
  ...Object.fromEntries(Array.from({ length: 26 }, (_, i) => [String.fromCharCode(97 + i), 0x04 + i])),
  ...Object.fromEntries(Array.from({ length: 9 }, (_, i) => [String(i + 1), 0x1e + i])),
  "0": 0x27,
  ret: 0x28,
  esc: 0x29,
  backspace: 0x2a,
  tab: 0x2b,
  spc: 0x2c,
  minus: 0x2d,
  equal: 0x2e,
  bracket_left: 0x2f,
  bracket_right: 0x30,
  backslash: 0x31,
  semicolon: 0x33,
  apostrophe: 0x34,
  grave_accent: 0x35,
  comma: 0x36,
  dot: 0x37,
  slash: 0x38,
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i + 1}`, 0x3a + i])),
  insert: 0x49,
  home: 0x4a,
  pgup: 0x4b,
  delete: 0x4c,
  end: 0x4d,
  pgdn: 0x4e,
  right: 0x4f,
  left: 0x50,
  down: 0x51,
  up: 0x52,
  menu: 0x65,
  ctrl: 0xe0,
  shift: 0xe1,
  alt: 0xe2,
  meta_l: 0xe3,
  ctrl_r: 0xe4,
  shift_r: 0xe5,
  alt_r: 0xe6,
  meta_r: 0xe7,
});

/** Characters Packer's USB driver types with shift (besides upper-case letters). */
const SHIFTED_CHARS = '~!@#$%^&*()_+{}|:"<>?';

/** One PutUsbScanCodes key event, or a wait. */
export type UsbStep =
  | { readonly type: "key"; readonly usage: number; readonly ctrl: boolean; readonly shift: boolean; readonly alt: boolean }
  | { readonly type: "wait"; readonly ms: number };

function usage(key: QCode): number {
  const code = HID_USAGE[key];
  if (code === undefined) throw new InvalidArgumentError(`boot_command: no USB HID code for key "${key}"`);
  return code;
}

/** Packer's USB driver: one event per key with its modifier state (see the module comment). */
export function usbKeyEvents(actions: readonly BootAction[]): UsbStep[] {
  const held = { ctrl: false, alt: false, shift: false };
  const out: UsbStep[] = [];
  const send = (key: QCode, down: boolean): void => {
    if (key === "alt") held.alt = down;
    else if (key === "ctrl") held.ctrl = down;
    else if (key === "shift") held.shift = down;
    out.push({ type: "key", usage: usage(key), ctrl: held.ctrl, alt: held.alt, shift: down || held.shift });
  };
  for (const a of actions) {
    if (a.type === "wait") out.push({ type: "wait", ms: a.ms });
    else if (a.type === "tap") {
      // A character is [key] or [shift, key]; a special key is [key] and goes with "down" false, as Packer's KeyPress.
      const key = a.keys[a.keys.length - 1] as QCode;
      send(key, a.keys.length > 1 && a.keys[0] === "shift");
    } else if (a.char !== undefined) {
      // `<aOn>`/`<aOff>`: Packer types the character once, ignoring the toggle.
      send(a.key, /[A-Z]/.test(a.char) || SHIFTED_CHARS.includes(a.char));
    } else send(a.key, a.type === "down");
  }
  return out;
}

/** The vim25 UsbScanCodeSpecKeyEvent of a key event (modifiers in WSDL order; vCenter validates it). */
function keyEvent(e: Extract<UsbStep, { type: "key" }>): SoapObject {
  return { usbHidCode: (e.usage << 16) | 7, modifiers: { leftControl: e.ctrl, leftShift: e.shift, leftAlt: e.alt } };
}

/** `boot_keygroup_interval`, else `PACKER_KEY_INTERVAL` (a Go duration), else 100ms. */
export function usbKeyInterval(configured: number | undefined, env = process.env.PACKER_KEY_INTERVAL): number {
  if ((configured ?? 0) > 0) return configured as number;
  if (env !== undefined && env !== "") {
    try {
      return parseGoDuration(env);
    } catch (err) {
      if (!(err instanceof DurationSyntaxError)) throw err;
    }
  }
  return DEFAULT_USB_KEY_INTERVAL_MS;
}

/**
 * Packer's getHostIP: `http_ip` when set (it must be an IP address), else the first non-loopback IPv4 address of this
 * host inside `ip_wait_address` (the network the guest is expected on). @throws BuildFailedError when none is found
 */
export function discoverHttpIp(httpIp: string | undefined, waitAddress: string | undefined): string {
  if ((httpIp ?? "") !== "") {
    if (isIP(httpIp as string) === 0) throw new InvalidArgumentError(`http_ip '${httpIp}': invalid IP address`);
    return httpIp as string;
  }
  const cidr = (waitAddress ?? "") !== "" ? (waitAddress as string) : "0.0.0.0/0";
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === "IPv4" && !a.internal && ipv4InCidr(a.address, cidr)) return a.address;
    }
  }
  throw new BuildFailedError(`IP not found: this host has no IPv4 address (other than loopback) in ${cidr} for the HTTP server; set http_ip`);
}

/** What the boot command steps keep in the builder's state. */
export interface VsphereBootState extends HttpServerState {
  /** The address the guest reaches the HTTP server at (`{{ .HTTPIP }}`). */
  httpIp?: string;
  vm?: VirtualMachine;
}

/** Whether the build types a boot command or serves files: then the HTTP IP is needed (and its lookup may fail). */
export function usesBootHttp(c: VsphereCommonConfig): boolean {
  return (c.boot_command ?? []).length > 0 || (c.http_directory ?? "") !== "";
}

/** Packer's StepHTTPIPDiscover (run only when {@link usesBootHttp}: kiln does not fail builds that need no IP). */
export function httpIpStep<S extends VsphereBootState>(c: VsphereCommonConfig): Step<S> {
  return {
    name: "http-ip-discover",
    async run(_ctx, state) {
      state.httpIp = discoverHttpIp(c.http_ip, c.ip_wait_address);
      return "continue";
    },
  };
}

/** Packer's StepBootCommand: waits `boot_wait` (default 10s), then types the rendered command over PutUsbScanCodes. */
export function bootCommandStep<S extends VsphereBootState>(
  c: VsphereCommonConfig,
  vmName: string,
  render: (text: string, data: Readonly<Record<string, unknown>>) => string,
): Step<S> {
  return {
    name: "boot-command",
    async run(ctx, state) {
      const command = c.boot_command ?? [];
      if (command.length === 0) return "continue";
      const vm = state.vm;
      if (vm === undefined) throw new BuildFailedError("internal: no VM to type the boot command into");
      const bootWait = (c.boot_wait ?? 0) > 0 ? (c.boot_wait as number) : DEFAULT_VSPHERE_BOOT_WAIT_MS;
      ctx.log("say", `Waiting ${formatGoDuration(bootWait)} for boot...`);
      await sleep(bootWait, ctx.signal);
      const port = state.httpServer?.port ?? 0;
      if (port > 0) ctx.log("say", `HTTP server is working at http://${state.httpIp ?? ""}:${port}/`);
      const data = { HTTPIP: state.httpIp ?? "", HTTPPort: String(port), Name: vmName };
      const events = usbKeyEvents(parseBootCommand(renderBootCommand(command, data, render)));
      const interval = usbKeyInterval(c.boot_keygroup_interval);
      ctx.log("say", "Typing boot command...");
      for (const e of events) {
        if (e.type === "wait") {
          await sleep(e.ms, ctx.signal);
          continue;
        }
        const put = (): Promise<unknown> =>
          vm.client.call("PutUsbScanCodes", vm.ref, { spec: { keyEvents: [keyEvent(e)] } }, ctx.signal, `typing the boot command into ${vm.name}`);
        try {
          await put();
        } catch (err) {
          // Packer retries a key once, after boot_keygroup_interval.
          if (ctx.signal.aborted) throw err;
          ctx.log("error", `error typing a boot command (code ${e.usage}): ${(err as Error).message}`);
          ctx.log("say", "trying key input again");
          await sleep(c.boot_keygroup_interval ?? 0, ctx.signal);
          await put();
        }
        await sleep(interval, ctx.signal);
      }
      return "continue";
    },
  };
}
