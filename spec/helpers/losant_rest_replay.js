// Replays a list of calls through the official Losant client (losant-rest),
// one after another, for spec/losant/wire_spec.lua: node losant_rest_replay.js
// CALLS_JSON URL TOKEN. CALLS_JSON holds [{ "action": "device.get",
// "params": {...} }, ...]. Answers and failures are ignored: the sandbox's
// request record is what the spec compares. Prints "replayed N".
// An upload's file param is written as a tagged object: {"$file": path}
// is fs.createReadStream(path), {"$bytes": text} is Buffer.from(text)
// (utf8), with "$name" the Buffer's name (form-data's filename).
'use strict';
const fs = require('fs');
const api = require('losant-rest');

// The value a tagged upload param stands for; any other value as it is.
function value(v) {
  if (v && typeof v === 'object' && typeof v.$file === 'string') return fs.createReadStream(v.$file);
  if (v && typeof v === 'object' && typeof v.$bytes === 'string') {
    const b = Buffer.from(v.$bytes, 'utf8');
    if (typeof v.$name === 'string') b.name = v.$name;
    return b;
  }
  return v;
}

async function main() {
  const [file, url, token] = process.argv.slice(2);
  const calls = JSON.parse(fs.readFileSync(file, 'utf8'));
  const client = api.createClient({ url: url, accessToken: token });
  let n = 0;
  for (const call of calls) {
    const [resource, action] = call.action.split('.');
    const params = {};
    for (const k of Object.keys(call.params)) params[k] = value(call.params[k]);
    try { await client[resource][action](params); } catch (e) { /* the record is what counts */ }
    n++;
  }
  console.log('replayed ' + n);
}
main().catch(function (e) { console.error(e); process.exit(1); });
