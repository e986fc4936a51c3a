/**
 * Typing a parsed `boot_command` (agent/src/vm/boot_command.ts) into a desktop hypervisor's VM:
 * - VirtualBox: PC/XT (set 1) scancodes through `VBoxManage controlvm <vm> keyboardputscancode`, buffered and sent
 *   in chunks of 25 codes, flushed before every wait and at the end (the SDK's `NewPCXTDriver` behaviour);
 * - VMware: RFB key events to the VM's VNC server (the plugin's VNC driver), see ./vnc.ts.
 */
import { InvalidTemplateError } from "../../../../core/src/mod.js";
import { LINUX_KEYCODES, type BootAction, type QCode } from "../../vm/boot_command.js";

/** Codes per `keyboardputscancode` call (the SDK's chunk size for VirtualBox). */
export const SCANCODE_CHUNK = 25;
/** Packer's default interval between key groups (`PACKER_KEY_INTERVAL`, 100ms). */
export const DEFAULT_KEY_INTERVAL_MS = 100;

// Set-1 make codes of keys that need the 0xE0 prefix; for every other key the set-1 make code is the Linux keycode.
const EXTENDED: Readonly<Record<QCode, number>> = {
  ctrl_r: 0x1d, alt_r: 0x38, home: 0x47, up: 0x48, pgup: 0x49, left: 0x4b, right: 0x4d, end: 0x4f, down: 0x50,
  pgdn: 0x51, insert: 0x52, delete: 0x53, meta_l: 0x5b, meta_r: 0x5c, menu: 0x5d,
};

const hex = (n: number): string => n.toString(16).padStart(2, "0");

/** The set-1 scancodes of pressing (`down`) or releasing one key, as VBoxManage takes them ("1c", "e0 48"). */
export function scancodes(key: QCode, down: boolean): string[] {
  const ext = EXTENDED[key];
  if (ext !== undefined) return ["e0", hex(down ? ext : ext | 0x80)];
  const code = LINUX_KEYCODES[key];
  if (code === undefined || code > 0x58) throw new InvalidTemplateError([`boot_command: no PC/XT scancode for key "${key}"`]);
  return [hex(down ? code : code | 0x80)];
}

/** One step of typing through a scancode driver: send these codes, or wait. */
export type ScancodeStep = { readonly type: "send"; readonly codes: readonly string[] } | { readonly type: "wait"; readonly ms: number };

/** The boot command as VirtualBox receives it: chunks of at most 25 codes, flushed before waits and at the end. */
export function scancodeSteps(actions: readonly BootAction[]): ScancodeStep[] {
  const steps: ScancodeStep[] = [];
  let buffer: string[] = [];
  const flush = (): void => {
    for (let i = 0; i < buffer.length; i += SCANCODE_CHUNK) steps.push({ type: "send", codes: buffer.slice(i, i + SCANCODE_CHUNK) });
    buffer = [];
  };
  for (const a of actions) {
    if (a.type === "wait") {
      flush();
      steps.push({ type: "wait", ms: a.ms });
    } else if (a.type === "tap") {
      for (const k of a.keys) buffer.push(...scancodes(k, true));
      for (const k of [...a.keys].reverse()) buffer.push(...scancodes(k, false));
    } else buffer.push(...scancodes(a.key, a.type === "down"));
  }
  flush();
  return steps;
}

const KEYSYMS: Readonly<Record<QCode, number>> = {
  ret: 0xff0d, esc: 0xff1b, tab: 0xff09, backspace: 0xff08, delete: 0xffff, up: 0xff52, down: 0xff54, left: 0xff51,
  right: 0xff53, spc: 0x20, insert: 0xff63, home: 0xff50, end: 0xff57, pgup: 0xff55, pgdn: 0xff56, menu: 0xff67,
  alt: 0xffe9, ctrl: 0xffe3, shift: 0xffe1, meta_l: 0xffeb, alt_r: 0xffea, ctrl_r: 0xffe4, shift_r: 0xffe2,
  meta_r: 0xffec, minus: 0x2d, equal: 0x3d, bracket_left: 0x5b, bracket_right: 0x5d, backslash: 0x5c,
  semicolon: 0x3b, apostrophe: 0x27, grave_accent: 0x60, comma: 0x2c, dot: 0x2e, slash: 0x2f,
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i + 1}`, 0xffbe + i])),
};

/** The X keysym RFB sends for a key (the unshifted symbol; shift travels as its own key). */
export function keysym(key: QCode): number {
  if (/^[a-z0-9]$/.test(key)) return key.charCodeAt(0);
  const sym = KEYSYMS[key];
  if (sym === undefined) throw new InvalidTemplateError([`boot_command: no VNC keysym for key "${key}"`]);
  return sym;
}

/** One RFB key event or a wait. */
export type KeyEventStep = { readonly type: "key"; readonly keysym: number; readonly down: boolean } | { readonly type: "wait"; readonly ms: number };

/** The boot command as RFB key events: a tap presses its keys in order and releases them in reverse. */
export function keyEventSteps(actions: readonly BootAction[]): KeyEventStep[] {
  const out: KeyEventStep[] = [];
  for (const a of actions) {
    if (a.type === "wait") out.push({ type: "wait", ms: a.ms });
    else if (a.type === "tap") {
      for (const k of a.keys) out.push({ type: "key", keysym: keysym(k), down: true });
      for (const k of [...a.keys].reverse()) out.push({ type: "key", keysym: keysym(k), down: false });
    } else out.push({ type: "key", keysym: keysym(a.key), down: a.type === "down" });
  }
  return out;
}
