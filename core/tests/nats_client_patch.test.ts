/**
 * The NATS client as kiln installs it (patches/@nats-io+nats-core+*.patch, applied by `npm install`): a large message
 * that spans socket reads is gathered into one buffer of the message's size, not one that doubled its way there.
 * The object store's 512 KiB chunks all arrive this way; the doubling cost a download a third of its throughput.
 */
import { randomBytes } from "node:crypto";
import { headers, type Msg } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { NatsServer, connectFarm } from "../src/mod.js";

describe("nats client - large messages", () => {
  it("gathers a payload split across socket reads into a buffer of its own size, byte-identical", async () => {
    const nats = await NatsServer.start();
    const nc = await connectFarm({ servers: nats.url });
    try {
      const sent = Array.from({ length: 6 }, (_, i) => randomBytes(512 * 1024 + 1_111 * i));
      const received: Msg[] = [];
      const sub = nc.subscribe("kiln.test.large", { max: sent.length });
      const done = (async () => {
        for await (const m of sub) received.push(m);
      })();
      for (const [i, payload] of sent.entries()) {
        const h = headers();
        h.set("Kiln-Index", String(i));
        nc.publish("kiln.test.large", payload, { headers: h });
      }
      await done;
      expect(received.map((m) => Buffer.from(m.data).equals(sent[Number(m.headers?.get("Kiln-Index"))] ?? Buffer.alloc(0)))).toEqual(sent.map(() => true));
      for (const m of received) {
        // The buffer holds the headers and the payload, and ends where the payload does.
        const slack = m.data.buffer.byteLength - m.data.length;
        expect(slack, "nats.js gathered a large message into a grown buffer: `npm install` applies patches/ (patch-package)").toBeLessThan(256);
        expect(m.data.byteOffset + m.data.length).toBe(m.data.buffer.byteLength);
      }
    } finally {
      await nc.close();
      await nats.stop();
    }
  });
});
