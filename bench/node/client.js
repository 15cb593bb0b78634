// Node peer: the official Losant JavaScript client (losant-rest) keeping
// CONCURRENCY promises in flight until COUNT requests have completed.
// Usage: node client.js URL get|page|post CONCURRENCY COUNT BODYFILE
// Prints: RESULT ok=N errors=E elapsed_s=S rps=R p50_us=P p99_us=Q
'use strict';
const fs = require('fs');
const api = require('losant-rest');

const [url, workload, concArg, countArg, bodyfile] = process.argv.slice(2);
const concurrency = Number(concArg), count = Number(countArg);
if (!url || !workload || !(concurrency > 0) || !(count > 0) || !bodyfile) {
  console.error('usage: node client.js URL get|page|post CONCURRENCY COUNT BODYFILE');
  process.exit(2);
}
const APP = '575ec8687ae143cd83dc4a97', EVENT = '575ed0de7ae143cd83dc4aa5';
const client = api.createClient({ accessToken: process.env.BENCH_TOKEN || 'sandbox-all-access', url });
const postEvent = JSON.parse(fs.readFileSync(bodyfile, 'utf8'));

// One request of the workload and the check of its value.
let call, check;
if (workload === 'get') {
  call = () => client.event.get({ applicationId: APP, eventId: EVENT });
  check = (v) => v && typeof v.id === 'string';
} else if (workload === 'page') {
  call = () => client.events.get({ applicationId: APP, perPage: 100 });
  check = (v) => v && Array.isArray(v.items) && v.items.length === 100;
} else if (workload === 'post') {
  call = () => client.events.post({ applicationId: APP, event: postEvent });
  check = (v) => v && typeof v.id === 'string';
} else {
  console.error('unknown workload ' + workload);
  process.exit(2);
}

const latencies = new Float64Array(count);
let started = 0, done = 0, errors = 0, nlat = 0, firstError = null;
const tStart = process.hrtime.bigint();

// The q-quantile of the sorted latencies in microseconds (-1 when empty).
function quantile(sorted, q) {
  if (sorted.length === 0) return -1;
  const i = Math.max(1, Math.min(sorted.length, Math.ceil(q * sorted.length)));
  return sorted[i - 1] / 1000;
}

// Prints the RESULT line once every request has completed.
function finish() {
  const elapsed = Number(process.hrtime.bigint() - tStart) / 1e9;
  const sorted = latencies.subarray(0, nlat).sort();
  if (firstError) console.error('first error: ' + firstError);
  console.log(`RESULT ok=${done - errors} errors=${errors} elapsed_s=${elapsed.toFixed(6)} ` +
    `rps=${(done / elapsed).toFixed(1)} p50_us=${quantile(sorted, 0.5).toFixed(1)} p99_us=${quantile(sorted, 0.99).toFixed(1)}`);
}

// Starts the next request while fewer than count have been started.
function launch() {
  if (started >= count) return;
  started++;
  const t0 = process.hrtime.bigint();
  call().then((v) => {
    if (check(v)) latencies[nlat++] = Number(process.hrtime.bigint() - t0);
    else { errors++; firstError = firstError || 'unexpected value'; }
  }, (e) => {
    errors++;
    firstError = firstError || String(e && e.message || e);
  }).then(() => {
    done++;
    if (done === count) finish(); else launch();
  });
}

for (let i = 0; i < Math.min(concurrency, count); i++) launch();
