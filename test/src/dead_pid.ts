/** A pid whose process has exited and been waited for: what the owner token of a crashed agent names. */
import { spawn } from "node:child_process";

export async function deadPid(): Promise<number> {
  const child = spawn("true", { stdio: "ignore" });
  const pid = child.pid;
  await new Promise((resolve, reject) => child.once("exit", resolve).once("error", reject));
  if (pid === undefined) throw new Error("could not spawn `true` to get a dead pid");
  return pid;
}
