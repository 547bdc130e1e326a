// Verifies webhook deliveries with the official Standard Webhooks library (npm `standardwebhooks`).
// Usage: node verify-webhook.mjs <deliveries.json>, where the file holds
// {"secret": "whsec_…", "deliveries": [{"headers": {…}, "body": "…"}]}.
// Prints {"verified": n, "failed": [...], "tampered_rejected": bool} as its last line.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const webhook = new Webhook(input.secret);
let verified = 0;
const failed = [];
for (const delivery of input.deliveries) {
  try {
    webhook.verify(delivery.body, delivery.headers);
    verified += 1;
  } catch (error) {
    failed.push(String(error));
  }
}
let tamperedRejected = false;
if (input.deliveries.length > 0) {
  const first = input.deliveries[0];
  try {
    webhook.verify(first.body.replace("}", ', "tampered": true}'), first.headers);
  } catch {
    tamperedRejected = true;
  }
}
console.log(JSON.stringify({ verified, failed, tampered_rejected: tamperedRejected }));
