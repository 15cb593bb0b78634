// Replays a list of calls through the official Losant client (losant-rest),
// one after another, for spec/losant/wire_spec.lua: node losant_rest_replay.js
// CALLS_JSON URL TOKEN. CALLS_JSON holds [{ "action": "device.get",
// "params": {...} }, ...]. Answers and failures are ignored: the sandbox's
// request record is what the spec compares. Prints "replayed N".
'use strict';
const fs = require('fs');
const api = require('losant-rest');

async function main() {
  const [file, url, token] = process.argv.slice(2);
  const calls = JSON.parse(fs.readFileSync(file, 'utf8'));
  const client = api.createClient({ url: url, accessToken: token });
  let n = 0;
  for (const call of calls) {
    const [resource, action] = call.action.split('.');
    try { await client[resource][action](call.params); } catch (e) { /* the record is what counts */ }
    n++;
  }
  console.log('replayed ' + n);
}
main().catch(function (e) { console.error(e); process.exit(1); });
