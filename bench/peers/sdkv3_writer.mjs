// Peer for the sink benchmark: the AWS SDK for JavaScript v3 writing the same
// JSON lines with BatchWriteItem (25 items a call), `inflight` calls at once,
// UnprocessedItems re-sent. What a careful hand-written loader does.
//   node sdkv3_writer.mjs ENDPOINT TABLE FILE [inflight=64]
import { DynamoDBClient, BatchWriteItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Agent } from "node:http";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const [endpoint, table, file, inflightArg] = process.argv.slice(2);
const inflight = Number(inflightArg || 64);
const client = new DynamoDBClient({
  endpoint, region: "us-east-1",
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: inflight }) }),
});

let written = 0;
const running = new Set();
async function send(reqs) {
  let pending = reqs;
  while (pending.length) {
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
    const un = out.UnprocessedItems?.[table] ?? [];
    written += pending.length - un.length;
    pending = un;
  }
}
const t0 = process.hrtime.bigint();
const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
let batch = [];
for await (const line of rl) {
  if (!line) continue;
  batch.push({ PutRequest: { Item: marshall(JSON.parse(line), { removeUndefinedValues: true }) } });
  if (batch.length === 25) {
    const p = send(batch).finally(() => running.delete(p));
    running.add(p);
    batch = [];
    if (running.size >= inflight) await Promise.race(running);
  }
}
if (batch.length) { const p = send(batch); running.add(p); }
await Promise.all(running);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ peer: "aws-sdk-js-v3", items: written, seconds: secs, items_per_s: written / secs }));
