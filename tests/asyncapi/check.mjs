// The AsyncAPI Initiative's parser (@asyncapi/parser) as a checker of our documents.
// Reads {"documents": {name: document}} as JSON on stdin, writes {name: [diagnostic, ...]} on stdout, where a
// diagnostic is {"severity": "error"|"warning"|"info"|"hint", "code", "message", "path"}. The parser applies
// the AsyncAPI JSON Schema of the document's version, resolves every $ref, parses every message payload
// schema, and runs its ruleset (unique ids, channel parameters used in addresses, examples that match...).
import {Parser} from '@asyncapi/parser';

const SEVERITIES = ['error', 'warning', 'info', 'hint'];
const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const {documents} = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const parser = new Parser();
const report = {};
for(const [name, document] of Object.entries(documents)) {
  const {document: parsed, diagnostics} = await parser.parse(JSON.stringify(document));
  report[name] = diagnostics.map(d => ({
    severity: SEVERITIES[d.severity] || String(d.severity),
    code: String(d.code),
    message: d.message,
    path: d.path.join('/'),
  }));
  if(!parsed && !report[name].some(d => d.severity === 'error')) {
    report[name].push({severity: 'error', code: 'unparsed', message: 'the parser returned no document', path: ''});
  }
}
process.stdout.write(JSON.stringify(report));
