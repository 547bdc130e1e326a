// Runs the GraphQL-over-HTTP server audits of the `graphql-http` package against a running server.
// Usage: node graphql-http-audit.mjs <graphql url> <api key>
// Prints one JSON line: {"must": {"passed", "total"}, "should": {...}, "may": {...}, "failures": [...]}.
import { serverAudits } from 'graphql-http';

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: node graphql-http-audit.mjs <url> <api key>');
  process.exit(2);
}

// Every audit request carries the API key, as a real client's would.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};

const summary = { must: { passed: 0, total: 0 }, should: { passed: 0, total: 0 }, may: { passed: 0, total: 0 }, failures: [] };
for (const audit of serverAudits({ url, fetchFn })) {
  const level = audit.name.startsWith('MUST') ? 'must' : audit.name.startsWith('SHOULD') ? 'should' : 'may';
  const result = await audit.fn();
  summary[level].total += 1;
  if (result.status === 'ok') {
    summary[level].passed += 1;
  } else {
    summary.failures.push({ id: audit.id, name: audit.name, reason: result.reason });
  }
}
console.log(JSON.stringify(summary));
